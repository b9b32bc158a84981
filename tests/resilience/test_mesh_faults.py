"""Mesh retry policies through a faulty API: never half applied.

Each set/restore is read-modify-write with one atomic merge patch (routes and
snapshot annotation together, guarded by the resourceVersion read). Whatever
the API does to us, the VirtualRouter is always exactly the state before the
change or exactly the full state after it, and the snapshot always matches.
"""

from __future__ import annotations

import json

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.lab.bookinfo import world
from chaoslitmus.mesh.actions import restore_retry_policy, set_retry_policy
from chaoslitmus.mesh.snapshot import ORIGINAL_ROUTES

from .conftest import STORY, frozen

STORY_POLICY = {
    "maxRetries": 3,
    "perRetryTimeout": {"unit": "ms", "value": 2000},
    "httpRetryEvents": ["server-error"],
}


def target(namespace: str) -> dict:
    return {
        "name": f"{world.RATINGS_SERVICE}.{namespace}.svc.cluster.local",
        "namespace": namespace,
        "mesh": "appmesh",
    }


def expected_after(before: dict) -> tuple[str, str]:
    """The full "after" state: the policy on the route, the snapshot beside it.

    The snapshot is summed up by what restore relies on (the route it changed,
    with its original and our retry block); its time stamp varies.
    """
    changed = json.loads(json.dumps(before["spec"]))
    changed["routes"][0]["httpRoute"]["retryPolicy"] = STORY_POLICY
    original = before["spec"]["routes"][0]["httpRoute"].get("retryPolicy")
    annotations = {
        **(before["metadata"].get("annotations") or {}),
        ORIGINAL_ROUTES: [
            [before["spec"]["routes"][0]["name"], original, STORY_POLICY]
        ],
    }
    return json.dumps(changed), json.dumps(annotations)


def _summed_up(annotations: dict | None) -> dict | None:
    if not annotations or ORIGINAL_ROUTES not in annotations:
        return annotations
    document = json.loads(annotations[ORIGINAL_ROUTES])
    changed = [
        [r["name"], r["original"], r["ours"]] for r in document["routes"] if "ours" in r
    ]
    return {**annotations, ORIGINAL_ROUTES: changed}


def state(lab, namespace: str, before: tuple[str, str], after: tuple[str, str]) -> str:
    router = lab.router(namespace)
    now = frozen(router)
    if now == before:
        return "before"
    summed = (now[0], json.dumps(_summed_up(router["metadata"].get("annotations"))))
    if summed == after:
        return "after"
    return f"half-applied: {now}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_set_and_restore_complete_under_20pct_faults(lab, faults, seed):
    namespace = lab.mesh_namespace()
    original = lab.router(namespace)
    before, after = frozen(original), expected_after(original)
    proxy = faults(rate=0.2, seed=seed)

    out = set_retry_policy(**target(namespace), **STORY)
    assert out["changed"] is True and out["snapshot"] == "taken"
    assert state(lab, namespace, before, after) == "after"

    restored = restore_retry_policy(**target(namespace))
    assert restored["restored"] is True
    assert state(lab, namespace, before, after) == "before"
    assert proxy.records  # every call went through the proxy


@pytest.mark.parametrize("fault", ["500-after", "503-after", "reset-after", "drop"])
def test_a_patch_whose_answer_is_lost_is_recognised_as_landed(lab, faults, fault):
    namespace = lab.mesh_namespace()
    original = lab.router(namespace)
    before, after = frozen(original), expected_after(original)
    proxy = faults(rate=0.0)

    proxy.force(fault, method="PATCH", fragment="/virtualrouters/")
    out = set_retry_policy(**target(namespace), **STORY)
    # Reported as the change it was, not as "nothing to do".
    assert out["changed"] is True and out["snapshot"] == "taken"
    assert out["routes"][0]["before"] is None
    assert out["routes"][0]["after"]["max_retries"] == 3
    assert state(lab, namespace, before, after) == "after"
    # One write landed: the replay with the old resourceVersion met 409.
    assert [p.status for p in proxy.of("PATCH")][1:] == [409]

    proxy.force(fault, method="PATCH", fragment="/virtualrouters/")
    assert restore_retry_policy(**target(namespace))["restored"] is True
    assert state(lab, namespace, before, after) == "before"


def test_never_half_applied_even_when_most_router_requests_fail(lab, faults):
    namespace = lab.mesh_namespace()
    original = lab.router(namespace)
    before, after = frozen(original), expected_after(original)
    # Faults aimed at the read-modify-write of the router, where it matters;
    # one seed, and the requests are sequential, so the run is reproducible.
    faults(
        rate=0.8,
        seed=1,
        kinds=("500", "503", "reset", "drop"),
        eligible=lambda method, path: "/virtualrouters/" in path,
    )
    outcomes = []
    for action in (set_retry_policy, restore_retry_policy) * 2:
        arguments = {
            **target(namespace),
            **(STORY if action is set_retry_policy else {}),
        }
        try:
            action(**arguments)
            outcomes.append("done")
        except ActivityFailed as exc:
            assert "\n" not in str(exc)
            outcomes.append("failed")
        assert state(lab, namespace, before, after) in ("before", "after"), outcomes
    # Both paths were taken, or the test proved less than it says.
    assert set(outcomes) == {"done", "failed"}, outcomes

    faults(rate=0.0)
    restore_retry_policy(**target(namespace))
    assert state(lab, namespace, before, after) == "before"


def test_a_landed_patch_that_cannot_be_read_back_fails_clearly(lab, faults):
    namespace = lab.mesh_namespace()
    original = lab.router(namespace)
    before, after = frozen(original), expected_after(original)
    proxy = faults(rate=0.0)
    proxy.force("500-after", method="PATCH", fragment="/virtualrouters/")
    proxy.force("503-before", method="GET", fragment="/virtualrouters/", times=6)

    with pytest.raises(ActivityFailed) as failed:
        set_retry_policy(**target(namespace), **STORY)

    text = str(failed.value)
    assert "\n" not in text
    assert "either fully applied or not at all" in text
    assert state(lab, namespace, before, after) == "after"
    assert restore_retry_policy(**target(namespace))["restored"] is True
    assert state(lab, namespace, before, after) == "before"


def test_a_patch_that_never_landed_is_reported_as_no_change(lab, faults):
    namespace = lab.mesh_namespace()
    original = lab.router(namespace)
    proxy = faults(rate=0.0)
    proxy.force("503-before", method="PATCH", fragment="/virtualrouters/", times=6)

    with pytest.raises(ActivityFailed) as failed:
        set_retry_policy(**target(namespace), **STORY)

    text = str(failed.value)
    assert "was not changed (read back after the failure)" in text
    assert "may have been applied" not in text
    assert frozen(lab.router(namespace)) == frozen(original)


def test_a_dead_api_fails_set_clearly_and_changes_nothing(lab, faults):
    namespace = lab.mesh_namespace()
    original = lab.router(namespace)
    faults(rate=1.0, kinds=("reset",))

    with pytest.raises(ActivityFailed) as failed:
        set_retry_policy(**target(namespace), **STORY)

    text = str(failed.value)
    assert "\n" not in text and "cannot reach the Kubernetes API" in text
    assert frozen(lab.router(namespace)) == frozen(original)
