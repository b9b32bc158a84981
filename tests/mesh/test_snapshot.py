"""The rollback snapshot: what it records, formats 1 and 2, damage refused."""

from __future__ import annotations

import copy
import json

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus._mergepatch import apply_merge_patch as merge_patch
from chaoslitmus.mesh import istio
from chaoslitmus.mesh.merge import plan_restore
from chaoslitmus.mesh.snapshot import (
    ORIGINAL_FIELD,
    ORIGINAL_ROUTES,
    plan_change,
    read_snapshot,
    restore_patch,
)

from .samples import istio_service

ADAPTER = istio.ADAPTERS["v1"]
BY = {"field_manager": "chaostoolkit-litmus", "host": "test", "pid": 1}
T0, T1 = "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z"


def stored(obj: dict, version: str) -> dict:
    obj = copy.deepcopy(obj)
    obj["metadata"]["resourceVersion"] = version
    return obj


def retried(routes: list, attempts: int) -> list:
    new = copy.deepcopy(routes)
    for index, route in enumerate(new):
        raw = {**(ADAPTER.get_raw(route) or {}), "attempts": attempts}
        new[index] = ADAPTER.set_raw(route, raw)
    return new


def restore(obj: dict, force: bool = False) -> dict:
    snapshot = read_snapshot(obj, "http")
    plan = plan_restore(ADAPTER, snapshot.saved(ADAPTER), obj["spec"]["http"], force)
    assert plan.conflicts == [] or force
    return merge_patch(obj, restore_patch(obj, "http", plan.routes))


@pytest.mark.parametrize("annotations", [None, {"team": "ratings"}])
def test_change_then_restore_gives_back_spec_and_annotations(
    annotations: dict | None,
) -> None:
    original = stored(istio_service(), "7")
    if annotations:
        original["metadata"]["annotations"] = dict(annotations)

    first = plan_change(original, ADAPTER, retried(original["spec"]["http"], 9), T0, BY)
    assert first.snapshot == "taken"
    assert first.patch["metadata"]["resourceVersion"] == "7"
    document = json.loads(first.patch["metadata"]["annotations"][ORIGINAL_ROUTES])
    assert document["version"] == 2 and document["field"] == "spec.http"
    assert document["taken_at"] == T0 and document["taken_by"] == BY
    assert document["routes"][0]["original"] == original["spec"]["http"][0]["retries"]
    assert document["routes"][1]["original"] is None
    assert document["routes"][1]["name"] is None and document["routes"][1]["match"]
    changed = stored(merge_patch(original, first.patch), "8")

    # a second change adopts the first snapshot (its writes are still there)
    second = plan_change(changed, ADAPTER, retried(changed["spec"]["http"], 1), T1, BY)
    assert second.snapshot == "adopted"
    again = json.loads(second.patch["metadata"]["annotations"][ORIGINAL_ROUTES])
    assert again["taken_at"] == T0
    assert [r["original"] for r in again["routes"]] == [
        r["original"] for r in document["routes"]
    ]
    changed = stored(merge_patch(changed, second.patch), "9")

    back = restore(changed)
    assert json.dumps(back["spec"]) == json.dumps(original["spec"])
    assert back["metadata"].get("annotations") == original["metadata"].get(
        "annotations"
    )


def test_the_same_policy_again_sends_nothing() -> None:
    obj = stored(istio_service(), "3")
    new = retried(obj["spec"]["http"], 9)
    changed = stored(
        merge_patch(obj, plan_change(obj, ADAPTER, new, T0, BY).patch), "4"
    )
    again = plan_change(changed, ADAPTER, new, T1, BY)
    assert again.patch is None and again.snapshot == "adopted"
    assert plan_change(obj, ADAPTER, obj["spec"]["http"], T0, BY).snapshot == "none"


def test_a_stale_snapshot_is_refused_then_discarded_on_request() -> None:
    obj = stored(istio_service(), "3")
    changed = merge_patch(
        obj, plan_change(obj, ADAPTER, retried(obj["spec"]["http"], 9), T0, BY).patch
    )
    changed["spec"]["http"][0]["retries"]["attempts"] = 4  # someone else
    changed = stored(changed, "5")
    with pytest.raises(ActivityFailed) as caught:
        plan_change(changed, ADAPTER, retried(changed["spec"]["http"], 1), T1, BY)
    message = str(caught.value)
    assert "\n" not in message
    assert f"taken {T0} by chaostoolkit-litmus on test" in message
    assert "route 'primary' now has retry policy" in message
    assert (
        "restore_retry_policy" in message and "discard_stale_snapshot=true" in message
    )

    fresh = plan_change(
        changed, ADAPTER, retried(changed["spec"]["http"], 1), T1, BY, True
    )
    assert fresh.snapshot == "discarded-stale"
    assert fresh.discarded["routes"][0]["original"]["attempts"] == 2
    document = json.loads(fresh.patch["metadata"]["annotations"][ORIGINAL_ROUTES])
    assert document["taken_at"] == T1
    assert document["routes"][0]["original"]["attempts"] == 4  # the state now


def test_format_1_restores_and_its_field_annotation_goes() -> None:
    original = stored(istio_service(), "12")
    changed = copy.deepcopy(original)
    changed["spec"]["http"] = retried(original["spec"]["http"], 9)
    changed["metadata"]["annotations"] = {
        ORIGINAL_ROUTES: json.dumps(original["spec"]["http"]),
        ORIGINAL_FIELD: "spec.http",
    }
    snapshot = read_snapshot(changed, "http")
    assert snapshot.version == 1 and snapshot.taken_at is None
    back = restore(changed)
    assert json.dumps(back["spec"]) == json.dumps(original["spec"])
    assert "annotations" not in back["metadata"]
    # a set cannot adopt it: it does not say what that run wrote
    with pytest.raises(ActivityFailed, match="format of an earlier release"):
        plan_change(changed, ADAPTER, retried(changed["spec"]["http"], 1), T1, BY)


def test_restore_patch_carries_the_precondition_and_only_what_changes() -> None:
    obj = stored(istio_service(), "12")
    obj["metadata"]["annotations"] = {ORIGINAL_ROUTES: "[]", "team": "x"}
    patch = restore_patch(obj, "http", obj["spec"]["http"])
    assert patch == {
        "metadata": {"resourceVersion": "12", "annotations": {ORIGINAL_ROUTES: None}}
    }


def test_no_snapshot_reads_as_none() -> None:
    assert read_snapshot(istio_service(), "http") is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("null", "null is neither a route list nor a format-2 document"),
        ("{not json", "not JSON"),
        ("42", "42 is neither"),
        ('"routes"', "is neither"),
        ('{"a": 1}', "format version None"),
        ('{"version": 3, "field": "spec.http", "routes": []}', "format version 3"),
        ('{"version": 2, "field": "spec.http"}', "no 'routes' list"),
        ('{"version": 2, "field": "spec.http", "routes": [1]}', "not an object"),
        (
            '{"version": 2, "field": "spec.http", "routes": '
            '[{"name": "a", "index": -1, "digest": "d"}]}',
            "index is not a non-negative integer",
        ),
        (
            '{"version": 2, "field": "spec.http", "routes": '
            '[{"name": "a", "index": 0, "digest": "d", "ours": {}}]}',
            "'ours' without 'original'",
        ),
        (
            '{"version": 2, "field": "spec.http", "routes": [{"name": "a", '
            '"index": 0, "digest": "d", "ours": 1, "original": null}]}',
            "retry block is not an object",
        ),
        (
            '{"version": 2, "field": "spec.http", "routes": '
            '[{"name": null, "index": 0, "digest": "d"}]}',
            "no match fingerprint",
        ),
    ],
)
def test_damaged_snapshots_are_refused_in_one_line(text: str, fragment: str) -> None:
    obj = istio_service()
    obj["metadata"]["annotations"] = {ORIGINAL_ROUTES: text}
    with pytest.raises(ActivityFailed) as caught:
        read_snapshot(obj, "http")
    message = str(caught.value)
    assert fragment in message and "\n" not in message
    assert "nothing was changed" in message


def test_a_snapshot_of_another_field_names_the_api_version() -> None:
    obj = istio_service()
    obj["metadata"]["annotations"] = {
        ORIGINAL_ROUTES: "[]",
        ORIGINAL_FIELD: "spec.routes",
    }
    with pytest.raises(ActivityFailed, match="restore with the api_version"):
        read_snapshot(obj, "http")


def test_oversized_snapshots_are_refused_before_sending() -> None:
    obj = istio_service()
    obj["metadata"]["annotations"] = {"big": "y" * 300_000}
    with pytest.raises(ActivityFailed, match="too large to snapshot"):
        plan_change(obj, ADAPTER, retried(obj["spec"]["http"], 9), T0, BY)
