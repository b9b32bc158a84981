"""The rollback snapshot: taken once, restored exactly, refused when damaged."""

from __future__ import annotations

import copy
import json

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus._mergepatch import apply_merge_patch as merge_patch
from chaoslitmus.mesh.snapshot import (
    ORIGINAL_FIELD,
    ORIGINAL_ROUTES,
    change_patch,
    read_snapshot,
    restore_patch,
)

from .samples import istio_service


def stored(obj: dict, version: str) -> dict:
    obj = copy.deepcopy(obj)
    obj["metadata"]["resourceVersion"] = version
    return obj


@pytest.mark.parametrize("annotations", [None, {"team": "ratings"}])
def test_change_then_restore_gives_back_spec_and_annotations(
    annotations: dict | None,
) -> None:
    original = stored(istio_service(), "7")
    if annotations:
        original["metadata"]["annotations"] = dict(annotations)
    new_routes = copy.deepcopy(original["spec"]["http"])
    new_routes[0]["retries"] = {"attempts": 9}

    patch = change_patch(original, "http", new_routes)
    assert patch["metadata"]["resourceVersion"] == "7"
    assert (
        json.loads(patch["metadata"]["annotations"][ORIGINAL_ROUTES])
        == original["spec"]["http"]
    )
    assert patch["metadata"]["annotations"][ORIGINAL_FIELD] == "spec.http"
    changed = stored(merge_patch(original, patch), "8")

    # a second change keeps the first snapshot
    newer = copy.deepcopy(new_routes)
    newer[1]["retries"] = {"attempts": 1}
    second = change_patch(changed, "http", newer)
    assert second["metadata"] == {"resourceVersion": "8"}
    changed = stored(merge_patch(changed, second), "9")

    snapshot = read_snapshot(changed, "http")
    back = merge_patch(changed, restore_patch(changed, snapshot))
    assert json.dumps(back["spec"]) == json.dumps(original["spec"])
    assert back["metadata"].get("annotations") == original["metadata"].get(
        "annotations"
    )


def test_restore_patch_carries_the_precondition() -> None:
    obj = stored(istio_service(), "12")
    obj["metadata"]["annotations"] = {
        ORIGINAL_ROUTES: "[]",
        ORIGINAL_FIELD: "spec.http",
    }
    patch = restore_patch(obj, read_snapshot(obj, "http"))
    assert patch == {
        "metadata": {"resourceVersion": "12", "annotations": None},
        "spec": {"http": []},
    }


def test_no_snapshot_reads_as_none() -> None:
    assert read_snapshot(istio_service(), "http") is None


@pytest.mark.parametrize(
    ("annotations", "fragment"),
    [
        ({ORIGINAL_ROUTES: "{not json"}, "is not a JSON route list"),
        ({ORIGINAL_ROUTES: '{"a": 1}'}, "is not a JSON route list"),
        (
            {ORIGINAL_ROUTES: "[]", ORIGINAL_FIELD: "spec.routes"},
            "restore with the api_version",
        ),
    ],
)
def test_damaged_snapshots_are_errors(annotations: dict, fragment: str) -> None:
    obj = istio_service()
    obj["metadata"]["annotations"] = annotations
    with pytest.raises(ActivityFailed, match=fragment):
        read_snapshot(obj, "http")


def test_oversized_routes_are_refused_before_sending() -> None:
    obj = istio_service()
    obj["spec"]["http"][0]["headers"] = {"request": {"set": {"x": "y" * 300_000}}}
    with pytest.raises(ActivityFailed, match="too large to snapshot"):
        change_patch(obj, "http", [])
