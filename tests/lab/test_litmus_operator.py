"""The lab's Litmus stand-in, driven the way our extension drives Litmus: the
official kubernetes client creating ChaosEngines over HTTP and watching
ChaosEngine / ChaosResult status on the lab API server.

Timing: startup_s=0.2 and 1 s faults keep each run near 1.5 s. Assertions
about time only bound the fault window from below by what was asked (asyncio
never wakes early) and from above by a wide margin for a loaded 2-core box.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from kubernetes import client, watch

from chaoslitmus.lab import (
    ApiServerThread,
    ControlPlane,
    LabOptions,
    RecordingFaultSink,
    make_store,
)
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.lab.litmus import rules

NS = world.NAMESPACE
GROUP, VERSION = "litmuschaos.io", "v1alpha1"
SEED = 7
STARTUP_S = 0.2
SLACK_S = 2.0  # upper slack for timing on a shared, loaded machine
WAIT_S = 15.0  # how long any single expectation may take before failing


# --------------------------------------------------------------------------- harness


@dataclass
class OperatorRig:
    server: ApiServerThread
    sink: RecordingFaultSink
    api: client.ApiClient

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    def create_engine(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return self.custom.create_namespaced_custom_object(
            GROUP, VERSION, NS, "chaosengines", manifest
        )

    def engine(self, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(
            GROUP, VERSION, NS, "chaosengines", name
        )

    def patch_engine(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, NS, "chaosengines", name, body
        )

    def delete_engine(self, name: str) -> dict[str, Any]:
        return self.custom.delete_namespaced_custom_object(
            GROUP, VERSION, NS, "chaosengines", name
        )

    def wait_gone(self, name: str, deleted: dict[str, Any]) -> None:
        """Until the engine's DELETED event (replayed from the delete's version)."""
        self.watch(
            "chaosengines",
            name,
            lambda event_type, _obj: event_type == "DELETED",
            deleted["metadata"]["resourceVersion"],
        )

    def result(self, name: str) -> dict[str, Any] | None:
        try:
            return self.custom.get_namespaced_custom_object(
                GROUP, VERSION, NS, "chaosresults", name
            )
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def watch(
        self,
        plural: str,
        name: str,
        until: Callable[[str, dict[str, Any]], bool],
        resource_version: str | None = None,
    ) -> list[tuple[str, dict[str, Any]]]:
        """Every event for one object (from `resource_version`) until `until`."""
        seen: list[tuple[str, dict[str, Any]]] = []
        stream = watch.Watch()
        kwargs: dict[str, Any] = {
            "field_selector": f"metadata.name={name}",
            "timeout_seconds": int(WAIT_S),
        }
        if resource_version:
            kwargs["resource_version"] = resource_version
        for event in stream.stream(
            self.custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            NS,
            plural,
            **kwargs,
        ):
            seen.append((event["type"], event["object"]))
            if until(event["type"], event["object"]):
                stream.stop()
                return seen
        raise AssertionError(f"{plural}/{name}: condition not met; saw {summary(seen)}")

    def wait_engine(
        self,
        name: str,
        until: Callable[[dict[str, Any]], bool],
        resource_version: str | None = None,
    ) -> list[tuple[str, dict[str, Any]]]:
        return self.watch(
            "chaosengines", name, lambda _t, obj: until(obj), resource_version
        )

    def wait_sink(self, op: str, count: int = 1) -> list[dict[str, Any]]:
        """Poll the sink (written on the server thread; list appends are atomic)."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            calls = self.sink.of(op)
            if len(calls) >= count:
                return calls
            time.sleep(0.02)
        raise AssertionError(f"sink never saw {count} x {op}: {self.sink.calls}")

    def pods(self, selector: str) -> list[client.V1Pod]:
        return self.core.list_namespaced_pod(NS, label_selector=selector).items

    def events(self, name: str) -> list[client.CoreV1Event]:
        items = self.core.list_namespaced_event(NS).items
        return [e for e in items if e.involved_object.name == name]


def summary(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [f"{t}:{engine_state(o)}" for t, o in events]


def engine_state(engine: dict[str, Any]) -> str:
    status = engine.get("status") or {}
    entries = [
        f"{e.get('status')}/{e.get('verdict')}" for e in status.get("experiments") or []
    ]
    return f"{status.get('engineStatus', '')}{entries}"


def engine_status(engine: dict[str, Any]) -> str:
    return (engine.get("status") or {}).get("engineStatus", "")


def entry(engine: dict[str, Any]) -> dict[str, Any]:
    (only,) = (engine.get("status") or {}).get("experiments") or [{}]
    return only


def experiment_status(result: dict[str, Any] | None) -> dict[str, Any]:
    return ((result or {}).get("status") or {}).get("experimentStatus") or {}


def engine_manifest(
    name: str,
    *,
    experiment: str = world.NETWORK_LATENCY_EXPERIMENT,
    env: dict[str, str] | None = None,
    applabel: str = "app=ratings",
    appkind: str = "deployment",
    cleanup: str = "delete",
    service_account: str = world.CHAOS_SERVICE_ACCOUNT,
) -> dict[str, Any]:
    """A 3.x ChaosEngine like the chart's engine.yaml, aimed at ratings."""
    env = {"TOTAL_CHAOS_DURATION": "1", "NETWORK_LATENCY": "3000", **(env or {})}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ChaosEngine",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "engineState": "active",
            "appinfo": {"appns": NS, "applabel": applabel, "appkind": appkind},
            "chaosServiceAccount": service_account,
            "jobCleanUpPolicy": cleanup,
            "experiments": [
                {
                    "name": experiment,
                    "spec": {
                        "components": {
                            "env": [{"name": k, "value": v} for k, v in env.items()]
                        }
                    },
                }
            ],
        },
    }


LabFactory = Callable[..., OperatorRig]


@pytest.fixture
def make_lab() -> Iterator[LabFactory]:
    """Start a lab server with a seeded world and the operator; stopped after."""
    started: list[tuple[ApiServerThread, client.ApiClient]] = []

    def make(
        options: LabOptions | None = None,
        seed: int = SEED,
        store: Any = None,
        **operator: Any,
    ) -> OperatorRig:
        options = replace(
            options or LabOptions(), litmus_startup_s=STARTUP_S, litmus_inject_delay_s=0
        )
        sink = RecordingFaultSink()
        server = (
            ControlPlane(
                options,
                fault_sink=sink,
                operator_seed=seed,
                store=store,
                status_interval_s=0.5,
                pod_ready_delay_s=0.3,
                **operator,
            )
            .start()
            .server
        )
        api = client.ApiClient(client.Configuration(host=server.url))
        started.append((server, api))
        return OperatorRig(server, sink, api)

    yield make
    for server, api in started:
        api.close()
        server.stop()
        assert server.controller_errors == []


@pytest.fixture
def lab(make_lab: LabFactory) -> OperatorRig:
    return make_lab()


def ratings_pods(lab: OperatorRig) -> list[str]:
    return sorted(p.metadata.name for p in lab.pods("app=ratings"))


# --------------------------------------------------------------------------- a run


def test_engine_goes_initialized_running_completed_with_a_pass(
    lab: OperatorRig,
) -> None:
    created = lab.create_engine(engine_manifest("ratings-chaos"))
    seen = lab.wait_engine(
        "ratings-chaos",
        lambda e: engine_status(e) == "completed",
        created["metadata"]["resourceVersion"],
    )
    engines = [obj for _type, obj in seen]
    entries = [entry(e) for e in engines if (e.get("status") or {}).get("experiments")]

    # initialized with the finalizer, then the runner's entry, Running, Completed
    first = next(e for e in engines if engine_status(e) == "initialized")
    assert rules.FINALIZER in first["metadata"]["finalizers"]
    statuses = [(x["status"], x["verdict"]) for x in entries]
    assert statuses[0] == ("Waiting for Job Creation", "N/A")
    assert entries[0]["experimentPod"] == "Yet to be launched"
    assert ("Running", "Awaited") in statuses
    assert statuses[-1] == ("Completed", "Pass")
    running = next(x for x in entries if x["status"] == "Running")
    assert running["experimentPod"].startswith("pod-network-latency-")
    assert running["runner"] == "ratings-chaos-runner"

    final = engines[-1]
    assert final["spec"]["engineState"] == "stop"  # completion sets stop too
    assert rules.FINALIZER in final["metadata"]["finalizers"]  # finalizer stays

    result = lab.result("ratings-chaos-pod-network-latency")
    assert result is not None
    assert experiment_status(result) == {
        "phase": "Completed",
        "verdict": "Pass",
        "probeSuccessPercentage": "100",
    }
    history = result["status"]["history"]
    assert history["passedRuns"] == 1
    assert history["failedRuns"] == history["stoppedRuns"] == 0
    (target,) = history["targets"]
    assert target["kind"] == "pod" and target["chaosStatus"] == "reverted"
    assert target["name"] in ratings_pods(lab)
    assert result["spec"] == {
        "engine": "ratings-chaos",
        "experiment": "pod-network-latency",
        "instance": "",
    }
    assert result["metadata"]["labels"]["chaosUID"] == created["metadata"]["uid"]

    # the fault: one ratings pod, the engine's latency, for the asked duration
    (start,) = lab.sink.of("start_latency")
    (stop,) = lab.sink.of("stop")
    assert start["namespace"] == NS
    assert start["pod_names"] == [target["name"]]
    assert (start["latency_ms"], start["jitter_ms"]) == (3000, 0)
    assert stop["fault_id"] == start["fault_id"]
    assert 1.0 - 0.01 <= stop["t"] - start["t"] <= 1.0 + SLACK_S

    # jobCleanUpPolicy=delete: runner, Job and experiment pod are gone
    uid = created["metadata"]["uid"]
    assert lab.pods(f"chaosUID={uid}") == []
    jobs = client.BatchV1Api(lab.api).list_namespaced_job(
        NS, label_selector=f"chaosUID={uid}"
    )
    assert jobs.items == []
    reasons = [e.reason for e in lab.events("ratings-chaos")]
    assert "ChaosEngineInitialized" in reasons and "ChaosEngineCompleted" in reasons


def test_a_recreated_engine_shows_awaited_before_its_new_verdict(
    lab: OperatorRig,
) -> None:
    """The trap: the same result name carries the previous run's Pass until
    the new experiment pod starts; then Awaited; then the new verdict."""
    lab.create_engine(engine_manifest("again"))
    lab.wait_engine("again", lambda e: engine_status(e) == "completed")
    lab.wait_gone("again", lab.delete_engine("again"))
    before = lab.result("again-pod-network-latency")
    assert before is not None and experiment_status(before)["verdict"] == "Pass"

    created = lab.create_engine(engine_manifest("again"))
    # right after creation the old verdict is still what a reader sees
    stale = lab.result("again-pod-network-latency")
    assert stale is not None and experiment_status(stale)["verdict"] == "Pass"
    seen = lab.watch(
        "chaosresults",
        "again-pod-network-latency",
        lambda _t, r: r["status"]["history"]["passedRuns"] == 2,
        before["metadata"]["resourceVersion"],
    )
    verdicts = [experiment_status(r).get("verdict") for _t, r in seen]
    assert "Awaited" in verdicts
    assert verdicts.index("Awaited") < len(verdicts) - 1
    assert verdicts[-1] == "Pass"
    awaited = next(r for _t, r in seen if experiment_status(r)["verdict"] == "Awaited")
    assert experiment_status(awaited) == {
        "phase": "Running",
        "verdict": "Awaited",
        "probeSuccessPercentage": "Awaited",
    }
    assert awaited["metadata"]["labels"]["chaosUID"] == created["metadata"]["uid"]
    final = seen[-1][1]["status"]["history"]
    assert (final["passedRuns"], final["failedRuns"], final["stoppedRuns"]) == (2, 0, 0)


def test_patching_a_completed_engine_active_runs_it_again(lab: OperatorRig) -> None:
    lab.create_engine(engine_manifest("rerun"))
    lab.wait_engine("rerun", lambda e: engine_status(e) == "completed")
    patched = lab.patch_engine("rerun", {"spec": {"engineState": "active"}})
    seen = lab.wait_engine(
        "rerun",
        lambda e: engine_status(e) == "completed",
        patched["metadata"]["resourceVersion"],
    )
    assert "initialized" in [engine_status(obj) for _t, obj in seen]
    assert entry(seen[-1][1])["verdict"] == "Pass"
    result = lab.result("rerun-pod-network-latency")
    assert result is not None and result["status"]["history"]["passedRuns"] == 2
    assert len(lab.sink.of("start_latency")) == 2


def test_stopping_mid_fault_ends_it_and_marks_everything_stopped(
    lab: OperatorRig,
) -> None:
    created = lab.create_engine(
        engine_manifest("halt", env={"TOTAL_CHAOS_DURATION": "60"})
    )
    (start,) = lab.wait_sink("start_latency")
    asked = time.monotonic()
    lab.patch_engine("halt", {"spec": {"engineState": "stop"}})
    seen = lab.wait_engine("halt", lambda e: engine_status(e) == "stopped")
    (stop,) = lab.wait_sink("stop")
    assert stop["fault_id"] == start["fault_id"]
    assert stop["t"] - asked <= SLACK_S  # ended at once, not after 60 s

    engine = seen[-1][1]
    assert rules.FINALIZER not in (engine["metadata"].get("finalizers") or [])
    assert (entry(engine)["status"], entry(engine)["verdict"]) == (
        "Forcefully Aborted",
        "Stopped",
    )
    result = lab.result("halt-pod-network-latency")
    assert experiment_status(result)["phase"] == "Stopped"
    assert experiment_status(result)["verdict"] == "Stopped"
    assert result is not None and result["status"]["history"]["stoppedRuns"] == 1
    assert lab.pods(f"chaosUID={created['metadata']['uid']}") == []

    # stopping again (or a completed engine) changes nothing
    again = lab.patch_engine("halt", {"spec": {"engineState": "stop"}})
    time.sleep(0.3)
    assert (
        lab.engine("halt")["metadata"]["resourceVersion"]
        == (again["metadata"]["resourceVersion"])
    )


def test_deleting_mid_fault_ends_it_removes_the_engine_and_keeps_the_result(
    lab: OperatorRig,
) -> None:
    lab.create_engine(engine_manifest("gone", env={"TOTAL_CHAOS_DURATION": "60"}))
    (start,) = lab.wait_sink("start_latency")
    lab.wait_gone("gone", lab.delete_engine("gone"))
    (stop,) = lab.wait_sink("stop")
    assert stop["fault_id"] == start["fault_id"]
    with pytest.raises(client.ApiException) as missing:
        lab.engine("gone")
    assert missing.value.status == 404
    result = lab.result("gone-pod-network-latency")
    assert experiment_status(result)["verdict"] == "Stopped"


# --------------------------------------------------------------------------- failures


def test_a_missing_experiment_leaves_the_engine_stuck_initialized(
    lab: OperatorRig,
) -> None:
    # chaos-operator >= 3.0.0-beta8: no runner, a Warning event, no verdict ever.
    created = lab.create_engine(engine_manifest("nox", experiment="pod-cpu-hog"))
    lab.wait_engine("nox", lambda e: engine_status(e) == "initialized")
    time.sleep(STARTUP_S + 0.6)
    engine = lab.engine("nox")
    assert engine_status(engine) == "initialized"
    assert not (engine.get("status") or {}).get("experiments")
    assert lab.pods(f"chaosUID={created['metadata']['uid']}") == []
    assert lab.result("nox-pod-cpu-hog") is None
    assert lab.sink.calls == []


def test_a_missing_service_account_skips_the_experiment(lab: OperatorRig) -> None:
    created = lab.create_engine(engine_manifest("nosa", service_account="ghost-sa"))
    seen = lab.wait_engine("nosa", lambda e: engine_status(e) == "completed")
    final = entry(seen[-1][1])
    assert (final["status"], final["verdict"]) == ("Skipped", "Fail")
    assert lab.pods(f"chaosUID={created['metadata']['uid']}") == []  # no runner
    reasons = {e.reason for e in lab.events("nosa")}
    assert {"ChaosResourcesOperationFailed", "ExperimentSkipped"} <= reasons
    assert lab.sink.calls == []


def test_no_target_pods_gives_an_error_result(lab: OperatorRig) -> None:
    lab.create_engine(engine_manifest("empty", applabel="app=nothing-here"))
    seen = lab.wait_engine("empty", lambda e: engine_status(e) == "completed")
    assert (entry(seen[-1][1])["status"], entry(seen[-1][1])["verdict"]) == (
        "Completed",
        "Error",
    )
    result = lab.result("empty-pod-network-latency")
    status = experiment_status(result)
    assert (status["phase"], status["verdict"]) == ("Error", "Error")
    assert status["errorOutput"]["errorCode"] == "TARGET_SELECTION_ERROR"
    assert "app=nothing-here" in status["errorOutput"]["reason"]
    assert result is not None and result["status"]["history"]["failedRuns"] == 0
    assert lab.sink.calls == []


def test_half_an_appinfo_stops_the_engine(lab: OperatorRig) -> None:
    lab.create_engine(engine_manifest("half", appkind=""))
    seen = lab.wait_engine("half", lambda e: engine_status(e) == "stopped")
    assert seen[-1][1]["spec"]["engineState"] == "stop"
    assert lab.result("half-pod-network-latency") is None
    assert lab.sink.calls == []


# --------------------------------------------------------------------------- targets


def first_fault_targets(lab: OperatorRig, name: str, env: dict[str, str]) -> list[str]:
    """Start a long fault, read its targets, then delete the engine."""
    lab.create_engine(engine_manifest(name, env={"TOTAL_CHAOS_DURATION": "60", **env}))
    calls = lab.wait_sink("start_latency", len(lab.sink.of("start_latency")) + 1)
    lab.delete_engine(name)
    lab.wait_sink("stop", len(calls))
    return calls[-1]["pod_names"]


def consecutive(picked: list[str], pods: list[str]) -> bool:
    start = pods.index(picked[0])
    return picked == [pods[(start + i) % len(pods)] for i in range(len(picked))]


def test_pods_affected_perc_picks_consecutive_pods_from_a_seeded_start(
    make_lab: LabFactory,
) -> None:
    lab = make_lab(LabOptions(ratings_replicas=4))
    pods = ratings_pods(lab)
    half = first_fault_targets(lab, "perc50", {"PODS_AFFECTED_PERC": "50"})
    assert len(half) == 2 and consecutive(half, pods)
    everything = first_fault_targets(lab, "perc150", {"PODS_AFFECTED_PERC": "150"})
    assert sorted(everything) == pods  # capped at 100 %
    default = first_fault_targets(lab, "perc-empty", {"PODS_AFFECTED_PERC": ""})
    assert len(default) == 1  # empty = unset = one pod
    named = first_fault_targets(
        lab, "named", {"TARGET_PODS": pods[3], "PODS_AFFECTED_PERC": "100"}
    )
    assert named == [pods[3]]  # TARGET_PODS overrides the percentage

    # the same seed on a fresh lab makes the same choice
    again = make_lab(LabOptions(ratings_replicas=4))
    assert ratings_pods(again) == pods
    assert first_fault_targets(again, "perc50", {"PODS_AFFECTED_PERC": "50"}) == half


def test_an_unknown_target_pod_is_a_target_selection_error(lab: OperatorRig) -> None:
    lab.create_engine(engine_manifest("typo", env={"TARGET_PODS": "ratings-v1-nope"}))
    lab.wait_engine("typo", lambda e: engine_status(e) == "completed")
    status = experiment_status(lab.result("typo-pod-network-latency"))
    assert status["errorOutput"]["errorCode"] == "TARGET_SELECTION_ERROR"
    assert "ratings-v1-nope" in status["errorOutput"]["reason"]


def test_pod_delete_replaces_pods_through_their_replicaset(lab: OperatorRig) -> None:
    before = ratings_pods(lab)
    created = lab.create_engine(
        engine_manifest(
            "kill",
            experiment=world.POD_DELETE_EXPERIMENT,
            env={"TOTAL_CHAOS_DURATION": "2", "CHAOS_INTERVAL": "1"},
            cleanup="retain",
        )
    )
    seen = lab.wait_engine("kill", lambda e: engine_status(e) == "completed")
    assert entry(seen[-1][1])["verdict"] == "Pass"
    deleted = [c["pod"] for c in lab.sink.of("pod_deleted")]
    ready = [c["pod"] for c in lab.sink.of("pod_ready")]
    assert len(deleted) == 2  # rounds at 0 s and 1 s of a 2 s window
    assert set(deleted) <= set(before) | set(ready)
    after = ratings_pods(lab)
    assert len(after) == len(before)  # the ReplicaSet keeps its replicas
    assert set(ready) & set(after)
    for pod in lab.pods("app=ratings"):
        assert pod.status.phase == "Running"
        assert pod.metadata.owner_references[0].kind == "ReplicaSet"
    result = lab.result("kill-pod-delete")
    assert result is not None
    assert result["status"]["history"]["targets"] == [
        {
            "name": world.RATINGS_DEPLOYMENT,
            "kind": "deployment",
            "chaosStatus": "targeted",
        }
    ]
    # retain: the Job and experiment pod stay, finished
    uid = created["metadata"]["uid"]
    (job,) = (
        client.BatchV1Api(lab.api)
        .list_namespaced_job(NS, label_selector=f"chaosUID={uid}")
        .items
    )
    assert job.status.succeeded == 1
    phases = {p.metadata.name: p.status.phase for p in lab.pods(f"chaosUID={uid}")}
    assert phases["kill-runner"] == "Succeeded"
    assert set(phases.values()) == {"Succeeded"}


# --------------------------------------------------------------------------- 1.x


def engine_1x(name: str) -> dict[str, Any]:
    """A Litmus 1.x engine (chaos-charts 1.2.0 engine.yaml) aimed at ratings."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ChaosEngine",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "jobCleanUpPolicy": "delete",
            "annotationCheck": "true",
            "engineState": "active",
            "auxiliaryAppInfo": "",
            "monitoring": False,
            "appinfo": {
                "appns": NS,
                "applabel": "app=ratings",
                "appkind": "deployment",
            },
            "chaosServiceAccount": world.CHAOS_SERVICE_ACCOUNT,
            "experiments": [
                {
                    "name": "pod-network-latency",
                    "spec": {
                        "components": {
                            "env": [
                                {"name": "TARGET_CONTAINER", "value": "ratings"},
                                {"name": "NETWORK_INTERFACE", "value": "eth0"},
                                {"name": "NETWORK_LATENCY", "value": "3000"},
                                {"name": "TOTAL_CHAOS_DURATION", "value": "1"},
                            ]
                        }
                    },
                }
            ],
        },
    }


def test_a_1x_engine_runs_with_1x_shapes(make_lab: LabFactory) -> None:
    lab = make_lab(LabOptions(litmus="1.x"))
    lab.create_engine(engine_1x("legacy"))
    seen = lab.wait_engine("legacy", lambda e: engine_status(e) == "completed")
    final = entry(seen[-1][1])
    assert final["status"] == "Execution Successful" and final["verdict"] == "Pass"
    assert final["name"].startswith("pod-network-latency-")  # the Job's name
    assert "runner" not in final
    result = lab.result("legacy-pod-network-latency")
    assert result is not None
    assert result["status"] == {
        "experimentstatus": {"phase": "Completed", "verdict": "Pass", "failStep": "N/A"}
    }
    assert result["metadata"]["labels"]["type"] == "ChaosResult"
    (start,) = lab.sink.of("start_latency")
    assert start["latency_ms"] == 3000 and len(start["pod_names"]) == 1


def test_a_1x_engine_without_the_annotation_stays_initialized(
    make_lab: LabFactory,
) -> None:
    lab = make_lab(LabOptions(litmus="1.x"))
    client.AppsV1Api(lab.api).patch_namespaced_deployment(
        world.RATINGS_DEPLOYMENT,
        NS,
        {"metadata": {"annotations": {"litmuschaos.io/chaos": None}}},
    )
    created = lab.create_engine(engine_1x("silent"))
    lab.wait_engine("silent", lambda e: engine_status(e) == "initialized")
    time.sleep(STARTUP_S + 0.6)
    engine = lab.engine("silent")
    assert engine_status(engine) == "initialized"  # Litmus 1.2.0's silent failure
    assert not (engine.get("status") or {}).get("experiments")
    assert lab.pods(f"chaosUID={created['metadata']['uid']}") == []
    assert lab.sink.calls == []


# --------------------------------------------------------------------------- watch


def test_the_operator_relists_after_its_watch_expires(make_lab: LabFactory) -> None:
    """Events lost while the watch was down (410 Gone) are picked up by a relist."""
    store = make_store(event_log_size=3)  # so that a resumed watch expires
    lab = make_lab(store=store)

    def lose_events() -> None:
        store.close_watches()  # the operator's watch ends ...
        body = engine_manifest("late")
        store.create("litmuschaos.io/v1alpha1/chaosengines", NS, body)
        for i in range(5):  # ... and its resume point falls out of the log
            patch = {"metadata": {"labels": {"bump": str(i)}}}
            store.patch("litmuschaos.io/v1alpha1/chaosengines", NS, "late", patch)

    lab.server.call(lose_events)
    seen = lab.wait_engine("late", lambda e: engine_status(e) == "completed")
    assert entry(seen[-1][1])["verdict"] == "Pass"


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("perc", "total", "expected"),
    [(0, 5, 1), (50, 3, 1), (50, 4, 2), (100, 4, 4), (150, 4, 4), (34, 3, 1)],
)
def test_affected_count_follows_litmus_go(perc: int, total: int, expected: int) -> None:
    assert rules.affected_count(perc, total) == expected


def test_pick_targets_wraps_around() -> None:
    rng = random.Random(0)
    picks = {tuple(rules.pick_targets(["a", "b", "c"], 67, rng)) for _ in range(50)}
    assert picks == {("a", "b"), ("b", "c"), ("c", "a")}


def test_engine_env_wins_and_empty_means_default() -> None:
    experiment = {
        "spec": {
            "definition": {
                "env": [
                    {"name": "NETWORK_LATENCY", "value": "2000"},
                    {"name": "JITTER", "value": "5"},
                    {"name": "RAMP_TIME", "value": ""},
                ]
            }
        }
    }
    engine_item = {
        "name": "pod-network-latency",
        "spec": {
            "components": {
                "env": [
                    {"name": "NETWORK_LATENCY", "value": "3000"},
                    {"name": "JITTER", "value": ""},
                ]
            }
        },
    }
    env = rules.experiment_env(experiment, engine_item)
    assert rules.env_int(env, "NETWORK_LATENCY") == 3000
    assert rules.env_int(env, "JITTER") == 0  # engine's "" = unset -> code default
    assert rules.env_int(env, "RAMP_TIME") == 0
    assert rules.env_int(env, "TOTAL_CHAOS_DURATION") == 60
    assert rules.env_int({"NETWORK_LATENCY": "fast"}, "NETWORK_LATENCY") == 0


def test_owner_kind_filter_walks_replicasets() -> None:
    def pod(name: str, kind: str, owner: str) -> dict[str, Any]:
        ref = {"kind": kind, "name": owner, "controller": True}
        return {"metadata": {"name": name, "ownerReferences": [ref]}}

    replicaset = {
        "metadata": {
            "ownerReferences": [
                {"kind": "Deployment", "name": "ratings-v1", "controller": True}
            ]
        }
    }
    pods = [
        pod("a", "ReplicaSet", "ratings-v1-abc"),
        pod("b", "StatefulSet", "db"),
        pod("c", "ReplicaSet", "orphan-rs"),  # a bare ReplicaSet
    ]
    owners = {("ReplicaSet", "ratings-v1-abc"): replicaset}
    by_kind = {
        kind: [p["metadata"]["name"] for p in rules.filter_by_kind(pods, kind, owners)]
        for kind in ("deployment", "statefulset", "daemonset")
    }
    assert by_kind == {"deployment": ["a"], "statefulset": ["b"], "daemonset": []}
    with pytest.raises(rules.TargetSelectionError):
        rules.filter_by_kind(pods, "cronjob", owners)


def test_result_name_appends_the_instance_id() -> None:
    assert rules.result_name("e", "x", {}) == "e-x"
    assert rules.result_name("e", "x", {"INSTANCE_ID": " run2 "}) == "e-x-run2"


@pytest.mark.parametrize(
    ("state", "status", "has_run", "deleting", "expected"),
    [
        ("", "", False, False, "initialize"),
        ("active", "initialized", True, False, "none"),
        ("active", "initialized", False, False, "run"),
        ("stop", "initialized", True, False, "abort"),
        ("stop", "completed", False, False, "none"),
        ("active", "completed", False, False, "restart"),
        ("active", "stopped", False, False, "restart"),
        ("active", "initialized", True, True, "delete"),
    ],
)
def test_decide_follows_the_operator(
    state: str, status: str, has_run: bool, deleting: bool, expected: str
) -> None:
    engine: dict[str, Any] = {
        "metadata": {"finalizers": [rules.FINALIZER]},
        "spec": {"engineState": state},
        "status": {"engineStatus": status},
    }
    if deleting:
        engine["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert rules.decide(engine, has_run) == expected
