"""The resource handle of chaoslitmus.k8s, against the lab's API server."""

from __future__ import annotations

import time

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.k8s import (
    SYNCED,
    Conflict,
    Invalid,
    Kube,
    KubeError,
    NotFound,
    Resource,
)

from .conftest import NS


def engine(name: str, state: str = "stop") -> dict:
    return {
        "apiVersion": "litmuschaos.io/v1alpha1",
        "kind": "ChaosEngine",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"engineState": state, "experiments": [{"name": "pod-delete"}]},
    }


def engines(kube: Kube) -> Resource:
    return kube.resource("litmuschaos.io", "v1alpha1", "chaosengines", NS)


def test_within_returns_a_new_handle_and_leaves_the_shared_one(lab):
    kube = Kube()
    bounded = kube.within(5)
    assert bounded is not kube and kube.deadline is None
    assert 0 < bounded.left_s() <= 5
    later = engines(kube).within(1)
    assert later.kube.deadline is not None and kube.deadline is None


def test_statuses_callers_branch_on_are_classes(lab):
    objects = engines(Kube())
    with pytest.raises(NotFound) as missing:
        objects.get("never-made")
    assert isinstance(missing.value, KubeError | ActivityFailed)
    assert str(missing.value).startswith(
        "chaosengines.litmuschaos.io 'never-made' not found in namespace 'bookinfo'"
    )
    assert "\n" not in str(missing.value)
    assert objects.find("never-made") is None
    assert objects.delete("never-made") is None

    objects.create(engine("handle-twice"))
    try:
        with pytest.raises(Conflict, match="pick another name"):
            objects.create(engine("handle-twice"))
        with pytest.raises(Invalid, match="as invalid"):
            objects.patch("handle-twice", {"spec": {"engineState": "sideways"}})
    finally:
        objects.delete("handle-twice")


def test_merge_patch_list_and_watch(lab):
    objects = engines(Kube())
    objects.create(engine("handle-patch"))
    try:
        patched = objects.patch(
            "handle-patch", {"metadata": {"annotations": {"a": "1"}}}
        )
        assert patched["metadata"]["annotations"]["a"] == "1"
        assert patched["spec"]["engineState"] == "stop"  # merged, not replaced
        names = [i["metadata"]["name"] for i in objects.list()["items"]]
        assert "handle-patch" in names
        seen = []
        for kind, obj in objects.watch("handle-patch", time.monotonic() + 5):
            seen.append((kind, obj.get("metadata", {}).get("name")))
            if kind == SYNCED:
                break
        assert seen == [("ADDED", "handle-patch"), (SYNCED, None)]
    finally:
        objects.delete("handle-patch")


def test_built_in_kinds_use_the_same_handle(lab):
    pods = Kube().resource("", "v1", "pods", NS)
    names = [p["metadata"]["name"] for p in pods.list("app=ratings")["items"]]
    assert names and all(n.startswith("ratings-") for n in names)
    assert Kube().resource("", "v1", "namespaces").find(NS) is not None
    with pytest.raises(ValueError, match="no typed API"):
        Kube().resource("", "v1", "configmaps", NS)
