"""Recovery checks on the lab: `no_fault_left` and `wait_for_recovery` pass
after both shipped experiments, and fail with one clear line when a run
leaves an engine running, a target injected or a route snapshot behind."""

from __future__ import annotations

import re

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.http.probes import wait_for_recovery
from chaoslitmus.lab import Lab, LabOptions
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.litmus.actions import (
    delete_engine,
    inject_network_latency,
    wait_for_chaos_started,
)
from chaoslitmus.litmus.probes import no_fault_left
from chaoslitmus.mesh.actions import restore_retry_policy, set_retry_policy

from .lab_runs import EXPERIMENTS, engines, record, run

NS = world.NAMESPACE
RESULTS = "litmuschaos.io/v1alpha1/chaosresults"


@pytest.fixture(scope="module")
def module_lab():
    with Lab(LabOptions(reviews_port=0, litmus_startup_s=0.2, seed=13)) as lab:
        yield lab


@pytest.fixture
def lab(module_lab, monkeypatch):
    for key, value in module_lab.env().items():
        monkeypatch.setenv(key, value)
    yield module_lab
    assert engines(module_lab) == [], "a test left an engine behind"


@pytest.mark.parametrize("name", ["ratings-latency.json", "ratings-latency-retry.json"])
def test_both_experiments_end_clean_and_recovered(lab, tmp_path, name):
    _, journal, done = run(lab, EXPERIMENTS / name, tmp_path)

    left = record(journal, "no-fault-left")
    assert left["status"] == "succeeded", left.get("exception")
    assert left["output"]["left"] == [] and left["output"]["engines_checked"] == 0
    recovered = record(journal, "reviews-recovered")
    assert recovered["status"] == "succeeded", recovered.get("exception")
    assert recovered["output"]["recovered"] is True
    # The engine was deleted (fault reverted) before: the first window passes.
    assert recovered["output"]["windows"] == 1
    assert recovered["output"]["recovered_after_s"] < 1
    # They run after every other rollback, in this order.
    names = [r["activity"]["name"] for r in journal["rollbacks"]]
    assert names[-2:] == ["no-fault-left", "reviews-recovered"]


def test_an_engine_left_running_fails_both_checks(lab):
    inject_network_latency(
        NS,
        "app=ratings",
        latency_ms=3000,
        duration_s=60,
        engine_name="left-on",
        wait=False,
    )
    try:
        wait_for_chaos_started("left-on", NS, timeout_s=30)
        with pytest.raises(ActivityFailed) as left:
            no_fault_left(NS)
        message = str(left.value)
        # The engine, and its result's injection mark (the fault is on).
        assert message.startswith(
            f"no_fault_left: 2 thing(s) left in namespace '{NS}': "
        )
        assert "ChaosEngine 'left-on' is still active" in message
        assert "injected and was never reverted" in message
        assert "\n" not in message

        with pytest.raises(ActivityFailed) as slow:
            wait_for_recovery(lab.reviews_url, within_s=2, window_s=1, rate_per_s=6)
        line = str(slow.value)
        # A window lasts until its slow calls end (2.5 s): one or two fit.
        assert re.search(
            r"did not recover within 2s \(\d window\(s\) of 1s\); last window: "
            r"error ratio 0\.\d+ > 0 \(\d+ of \d+ failed",
            line,
        ), line
        assert "500 x" in line and "\n" not in line
    finally:
        delete_engine("left-on", NS)
    assert no_fault_left(NS)["left"] == []
    assert no_fault_left(NS, engine_name="left-on")["left"] == []
    healthy = wait_for_recovery(lab.reviews_url, baseline_p99_ms=500, window_s=1)
    assert healthy["recovered"] is True and healthy["window"]["failed"] == 0


def test_a_route_snapshot_left_behind_fails(lab):
    target = {
        "name": world.RATINGS_VIRTUAL_SERVICE,
        "namespace": NS,
        "mesh": "appmesh",
    }
    set_retry_policy(
        **target,
        max_retries=2,
        per_retry_timeout_ms=1000,
        http_retry_events=["server-error"],
    )
    try:
        with pytest.raises(ActivityFailed) as left:
            no_fault_left(NS)
        assert "still holds the route snapshot chaoslitmus.io/original-routes" in str(
            left.value
        )
        assert "run restore_retry_policy" in str(left.value)
    finally:
        restore_retry_policy(**target)
    assert no_fault_left(NS)["mesh_objects_checked"] >= 2


@pytest.mark.parametrize(
    "key", ["pod/ratings-v1-left", "litmuschaos.io/ratings-v1-left"]
)
def test_a_target_injected_and_never_reverted_fails(lab, key):
    result = {
        "apiVersion": "litmuschaos.io/v1alpha1",
        "kind": "ChaosResult",
        "metadata": {
            "name": "by-hand-pod-network-latency",
            "namespace": NS,
            "annotations": {key: "injected"},
        },
        "spec": {"engine": "by-hand", "experiment": "pod-network-latency"},
    }
    store = lab.server.store
    lab.server.call(store.create, RESULTS, NS, result)
    try:
        with pytest.raises(ActivityFailed) as left:
            no_fault_left(NS)
        assert (
            "ChaosResult 'by-hand-pod-network-latency' says pod 'ratings-v1-left' "
            "is injected and was never reverted"
        ) in str(left.value)
        # Another engine's result is not this engine's business.
        assert no_fault_left(NS, engine_name="other")["left"] == []
        result["metadata"]["annotations"] = {key: "reverted"}
        lab.server.call(
            store.patch,
            RESULTS,
            NS,
            result["metadata"]["name"],
            {"metadata": {"annotations": {key: "reverted"}}},
        )
        assert no_fault_left(NS)["left"] == []
    finally:
        lab.server.call(store.delete, RESULTS, NS, result["metadata"]["name"])


def test_bad_input_is_one_line_and_sends_nothing(lab):
    with pytest.raises(ActivityFailed, match="within_s .* must be at least window_s"):
        wait_for_recovery(lab.reviews_url, within_s=1, window_s=5)
    with pytest.raises(ActivityFailed, match="max_error_ratio must be >= 0 and <= 1"):
        wait_for_recovery(lab.reviews_url, max_error_ratio=5)
    with pytest.raises(ActivityFailed, match="must start with http"):
        wait_for_recovery("reviews/0")
    with pytest.raises(ActivityFailed, match="namespace"):
        no_fault_left("Not_A_Namespace")
