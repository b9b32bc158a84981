"""Launching Litmus experiments against the lab, end to end over HTTP."""

from __future__ import annotations

import threading
import time

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.litmus import actions, probes

from .conftest import NS

RESULTS = "litmuschaos.io/v1alpha1/chaosresults"
ENGINES = "litmuschaos.io/v1alpha1/chaosengines"


def latency(**overrides):
    args = dict(
        app_namespace=NS, app_label="app=ratings", latency_ms=3000, duration_s=1
    )
    args.update(overrides)
    return actions.inject_network_latency(**args)


def test_network_latency_runs_to_a_pass_verdict(lab):
    outcome = latency(timeout_s=30)
    assert outcome["verdict"] == "Pass"
    assert outcome["phase"] == "Completed"
    assert outcome["experiment"] == "pod-network-latency"
    assert outcome["engine_name"].startswith("pod-network-latency-")
    assert outcome["result_name"] == f"{outcome['engine_name']}-pod-network-latency"
    assert len(outcome["target_pods"]) == 2
    # 0.2 s start-up + 1 s of chaos: the run cannot have been shorter.
    assert outcome["duration_s"] >= 1.0
    started = [c for c in lab.sink.of("start_latency") if c["latency_ms"] == 3000]
    assert started and len(started[-1]["pod_names"]) == 1  # Litmus' default: one pod


def test_the_fault_is_over_when_run_experiment_returns(lab):
    outcome = latency(timeout_s=30)
    fault_ids = {c["fault_id"] for c in lab.sink.of("start_latency")} - {
        c["fault_id"] for c in lab.sink.of("stop")
    }
    assert not fault_ids, "a latency fault is still running after the verdict"
    assert outcome["engine_status"] in ("completed", "initialized")


def test_two_runs_never_collide(lab):
    outcomes = []

    def run():
        outcomes.append(latency(timeout_s=30))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outcomes) == 2
    assert outcomes[0]["engine_name"] != outcomes[1]["engine_name"]
    assert {o["verdict"] for o in outcomes} == {"Pass"}


def test_a_rerun_with_the_same_name_does_not_report_the_old_verdict(lab):
    first = latency(engine_name="rerun-lat", timeout_s=30)
    assert first["verdict"] == "Pass"
    actions.delete_engine("rerun-lat", NS, timeout_s=10)
    # The result survives the engine, with its Pass verdict and history.
    kept = lab.get(RESULTS, "rerun-lat-pod-network-latency")
    assert kept["status"]["experimentStatus"]["verdict"] == "Pass"

    launched = latency(engine_name="rerun-lat", wait=False)
    assert launched["phase"] == "Launched"
    # While the new run starts, the result still says Pass: that must not count.
    stopped_at = time.monotonic()
    actions.stop_engine("rerun-lat", NS)
    outcome = actions.wait_for_result("rerun-lat", NS, timeout_s=30)
    assert time.monotonic() - stopped_at < 20
    assert outcome["verdict"] == "Stopped"
    actions.delete_engine("rerun-lat", NS, timeout_s=10)


def test_wait_for_chaos_started_then_stop(lab):
    launched = latency(duration_s=30, wait=False)
    name = launched["engine_name"]
    started = actions.wait_for_chaos_started(name, NS, timeout_s=10)
    assert started["phase"] == "Running"
    assert probes.chaos_result_verdict(name, "pod-network-latency", NS) == "Awaited"
    stop = actions.stop_engine(name, NS)
    assert stop["stopped"] is True
    outcome = actions.wait_for_result(name, NS, timeout_s=10)
    assert outcome["verdict"] == "Stopped"
    assert probes.engine_status(name, NS)["engine_status"] == "stopped"
    # stopping twice, and stopping what is gone, are fine (rollbacks)
    assert actions.stop_engine(name, NS)["stopped"] is False
    actions.delete_engine(name, NS, timeout_s=10)
    assert actions.stop_engine(name, NS) == {
        "engine_name": name,
        "namespace": NS,
        "stopped": False,
        "reason": "not found",
    }


def test_delete_mid_fault_ends_it_and_keeps_the_result(lab):
    launched = latency(duration_s=30, wait=False)
    name = launched["engine_name"]
    actions.wait_for_chaos_started(name, NS, timeout_s=10)
    deleted = actions.delete_engine(name, NS, timeout_s=10)
    assert deleted["deleted"] and deleted["gone"]
    assert name not in {e["metadata"]["name"] for e in lab.engines()}
    assert lab.get(RESULTS, f"{name}-pod-network-latency")
    assert actions.delete_engine(name, NS)["deleted"] is False


def test_wait_for_result_times_out_clearly(lab):
    launched = latency(duration_s=30, wait=False)
    name = launched["engine_name"]
    try:
        with pytest.raises(ActivityFailed, match="did not finish within 0.5s"):
            actions.wait_for_result(name, NS, timeout_s=0.5)
    finally:
        actions.delete_engine(name, NS, timeout_s=10)


def test_fail_on_verdict_raises_only_when_asked(lab):
    outcome = latency(target_pods=["no-such-pod"], timeout_s=30)
    assert outcome["verdict"] in ("Error", "Fail")
    with pytest.raises(ActivityFailed, match="ended with verdict"):
        latency(target_pods=["no-such-pod"], timeout_s=30, fail_on_verdict=True)


def test_pods_affected_perc_100_hits_both_replicas(lab):
    latency(pods_affected_perc=100, timeout_s=30)
    last = lab.sink.of("start_latency")[-1]
    assert len(last["pod_names"]) == 2


def test_probes_read_result_and_experiment(lab):
    outcome = latency(timeout_s=30)
    result = probes.chaos_result(outcome["engine_name"], "pod-network-latency", NS)
    assert result["verdict"] == "Pass"
    assert result["history"]["passed_runs"] == 1
    assert probes.experiment_installed("pod-network-latency", NS) is True
    assert probes.experiment_installed("pod-cpu-hog", NS) is False
    with pytest.raises(ActivityFailed, match="not found"):
        probes.chaos_result("nope", "pod-network-latency", NS)


def test_the_outcome_says_what_was_asked(lab):
    outcome = latency(jitter_ms=100, timeout_s=30)
    assert outcome["parameters"]["app_label"] == "app=ratings"
    assert outcome["parameters"]["env"]["NETWORK_LATENCY"] == "3000"
    assert outcome["parameters"]["env"]["JITTER"] == "100"
