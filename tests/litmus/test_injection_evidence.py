"""When the fault is really on: waits that return on Litmus' injection marks,
not on the ChaosResult's Running, against the lab over HTTP."""

from __future__ import annotations

import time

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.lab import LabOptions
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.litmus import actions, manifests

from .conftest import NS, start_lab

INJECT_DELAY_S = 1.5
RESULTS = "litmuschaos.io/v1alpha1/chaosresults"
ENGINES = "litmuschaos.io/v1alpha1/chaosengines"


@pytest.fixture(scope="module")
def slow_lab(tmp_path_factory):
    lab = start_lab(
        tmp_path_factory.mktemp("lab"),
        LabOptions(litmus_startup_s=0.2, litmus_inject_delay_s=INJECT_DELAY_S),
    )
    try:
        yield lab
    finally:
        lab.server.stop()


@pytest.fixture
def lab(slow_lab, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", slow_lab.kubeconfig)
    monkeypatch.delenv("KUBERNETES_CONTEXT", raising=False)
    return slow_lab


def launch(**overrides):
    args = dict(
        app_namespace=NS,
        app_label="app=ratings",
        latency_ms=3000,
        duration_s=2,
        wait=False,
    )
    args.update(overrides)
    return actions.inject_network_latency(**args)


def test_started_means_injected_and_names_the_faulted_pod(lab):
    launched = launch()
    name = launched["engine_name"]
    try:
        started = actions.wait_for_chaos_started(name, NS, timeout_s=30)
        returned_at = time.monotonic()
        # The fault is on when the wait returns, not merely "Running".
        (start,) = [
            c for c in lab.sink.of("start_latency") if c["fault_id"].startswith(NS)
        ][-1:]
        assert start["t"] <= returned_at
        assert started["targets"] == start["pod_names"]
        assert started["injection_evidence"] == "chaosresult-annotations"
        assert started["engine_uid"] == launched["engine_uid"]
        # Running -> injected takes the helper's start-up; generous upper bound
        # for a loaded machine.
        assert INJECT_DELAY_S - 0.3 <= started["inject_lag_s"] <= INJECT_DELAY_S + 5
        assert started["injected_at"] > started["running_at"]
        result = lab.get(RESULTS, launched["result_name"])
        marks = result["metadata"].get("annotations") or {}
        assert marks == {f"pod/{start['pod_names'][0]}": "injected"}

        reverted = actions.wait_for_chaos_reverted(name, NS, timeout_s=30)
        assert reverted["targets"] == start["pod_names"]
        assert lab.sink.of("stop"), "the fault was not reverted"
    finally:
        actions.delete_engine(name, NS, timeout_s=10)


def test_run_experiment_reports_targets_and_times(lab):
    outcome = actions.inject_network_latency(
        app_namespace=NS, app_label="app=ratings", duration_s=1, timeout_s=30
    )
    try:
        assert outcome["verdict"] == "Pass"
        assert len(outcome["targets"]) == 1
        assert outcome["targets"][0] in outcome["target_pods"]
        assert outcome["injected_at"] and outcome["reverted_at"]
        assert outcome["reverted_at"] > outcome["injected_at"]
        # The marks are folded into the history when the run ends.
        result = lab.get(RESULTS, outcome["result_name"])
        assert not (result["metadata"].get("annotations") or {})
        targets = result["status"]["history"]["targets"]
        assert {"name": outcome["targets"][0], "kind": "pod"}.items() <= {
            **targets[0]
        }.items()
    finally:
        actions.delete_engine(outcome["engine_name"], NS, timeout_s=10)


def test_a_finished_engine_is_refused(lab):
    outcome = actions.inject_network_latency(
        app_namespace=NS,
        app_label="app=ratings",
        duration_s=1,
        engine_name="left-over",
        timeout_s=30,
    )
    assert outcome["verdict"] == "Pass"
    try:
        began = time.monotonic()
        with pytest.raises(
            ActivityFailed, match="fault NOT injected.*already finished"
        ):
            actions.wait_for_chaos_started("left-over", NS, timeout_s=30)
        assert time.monotonic() - began < 10  # at once, not at the timeout
    finally:
        actions.delete_engine("left-over", NS, timeout_s=10)


def test_a_run_that_ends_without_injecting_fails_the_wait(lab):
    launched = launch(target_pods=["no-such-pod"])
    try:
        with pytest.raises(ActivityFailed, match="fault NOT injected.*ended"):
            actions.wait_for_chaos_started(launched["engine_name"], NS, timeout_s=30)
    finally:
        actions.delete_engine(launched["engine_name"], NS, timeout_s=10)


def test_no_injection_within_the_timeout_says_so(lab):
    launched = launch(ramp_time_s=30)
    try:
        with pytest.raises(ActivityFailed, match="^fault NOT injected: .*within 2s"):
            actions.wait_for_chaos_started(launched["engine_name"], NS, timeout_s=2)
    finally:
        actions.delete_engine(launched["engine_name"], NS, timeout_s=10)


def test_litmus_1x_falls_back_to_the_runner_state(tmp_path, monkeypatch):
    lab = start_lab(tmp_path, LabOptions(litmus="1.x", litmus_startup_s=0.2))
    monkeypatch.setenv("KUBECONFIG", lab.kubeconfig)
    try:
        launched = launch(litmus_version="1", duration_s=1)
        started = actions.wait_for_chaos_started(
            launched["engine_name"], NS, timeout_s=30
        )
        assert started["injection_evidence"].startswith("runner-state")
        assert "no injection annotation" in started["injection_evidence"]
        assert started["targets"] == []
    finally:
        lab.server.stop()


def test_a_stuck_engine_fails_fast_with_its_cause(lab):
    # Applied by hand (kubectl) for an experiment that is not installed:
    # chaos-operator >= 3.0.0-beta8 leaves it initialized forever.
    engine = manifests.engine_manifest(
        name="stuck",
        namespace=NS,
        experiment_name="pod-cpu-hog",
        app_namespace=NS,
        app_label="app=ratings",
        app_kind="deployment",
        service_account=world.CHAOS_SERVICE_ACCOUNT,
        env=[],
        probes=[],
        annotation_check=False,
        job_cleanup_policy="delete",
        litmus_version="3",
    )
    lab.server.call(lab.server.store.create, ENGINES, NS, engine)
    try:
        for wait in (actions.wait_for_chaos_started, actions.wait_for_result):
            began = time.monotonic()
            with pytest.raises(ActivityFailed) as failed:
                wait("stuck", NS, timeout_s=120)
            message = str(failed.value)
            assert "stuck initialized with no runner" in message
            assert 'chaosexperiments.litmuschaos.io "pod-cpu-hog" not found' in message
            assert "install the ChaosExperiment" in message
            assert "\n" not in message
            assert time.monotonic() - began < 60  # long before the timeout
    finally:
        actions.delete_engine("stuck", NS, timeout_s=10)
