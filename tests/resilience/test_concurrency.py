"""Several runs at once, and the same run again: each reports its own verdict,
nothing leaks between runs, nothing is left behind.

- Two `chaos run`s of one experiment file at the same time on one lab, in one
  namespace, told apart only by `CHAOSLITMUS_ENGINE_NAME`.
- Four activity calls at once in two namespaces holding the same world (one
  engine name used in both), on a plain API server with the Litmus operator.
- One engine name run three times in a row: Litmus reuses its ChaosResult, so
  each run must read its own verdict, never the one before.

Verdicts are made to differ on purpose (one run is stopped by hand, a
"Stopped" next to a "Pass"), so a verdict read from the wrong run shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from chaoslitmus.lab import (
    ApiError,
    ApiServerThread,
    ControlPlane,
    Lab,
    LabOptions,
    RecordingFaultSink,
)
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.litmus import actions
from chaoslitmus.litmus.status import result_summary

from ..chaos_cli import chaos_command

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "experiments" / "ratings-latency.json"
ENGINES = "litmuschaos.io/v1alpha1/chaosengines"
RESULTS = "litmuschaos.io/v1alpha1/chaosresults"
PODS = "v1/pods"
EAST = "bookinfo-east"
# 300 ms stays far under reviews' 2.5 s timeout: each run's hypothesis holds
# whatever the other run's fault is doing, so both runs go the whole way.
SHORT = {
    "LATENCY_MS": "300",
    "FAULT_DURATION_S": "8",
    "HYPOTHESIS_WINDOW_S": "1",
    "FAULT_WINDOW_S": "2",
    "TRAFFIC_RATE_PER_S": "5",
    "CHAOS_START_TIMEOUT_S": "30",
    "RESULT_TIMEOUT_S": "60",
}
TIMEOUT_S = 60  # for every wait below; runs take seconds


def poll(check: Callable[[], Any], what: str, timeout_s: float = TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def store_get(server: ApiServerThread, key: str, ns: str, name: str) -> dict | None:
    try:
        return server.call(server.store.get, key, ns, name)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def names(server: ApiServerThread, key: str, ns: str) -> list[str]:
    items, _ = server.call(server.store.list, key, ns)
    return sorted(o["metadata"]["name"] for o in items)


def running_result(server: ApiServerThread, ns: str, engine: str) -> bool:
    """This engine's (not an earlier one's) ChaosResult is Running."""
    found = store_get(server, ENGINES, ns, engine)
    result = store_get(server, RESULTS, ns, f"{engine}-pod-network-latency")
    return bool(
        found
        and result
        and result["metadata"]["labels"].get("chaosUID") == found["metadata"]["uid"]
        and result_summary(result)["phase"] == "Running"
    )


def use_kubeconfig(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]) -> None:
    for name in ("KUBERNETES_CONTEXT", "KUBERNETES_HOST", "CHAOSTOOLKIT_IN_POD"):
        monkeypatch.delenv(name, raising=False)
    for name in ("KUBECONFIG", "KUBERNETES_CONTEXT"):
        if name in variables:
            monkeypatch.setenv(name, variables[name])


# -------------------------------------------- two chaos runs on one lab at once


def chaos_run(lab: Lab, engine: str, folder: Path) -> subprocess.Popen:
    folder.mkdir()
    (folder / "settings.yaml").write_text("{}\n")
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {
        **os.environ,
        **lab.env(),
        **SHORT,
        "CHAOSLITMUS_ENGINE_NAME": engine,
        "PYTHONPATH": path,
    }
    command = chaos_command(
        folder / "settings.yaml",
        "run",
        "--journal-path",
        str(folder / "journal.json"),
        str(EXPERIMENT),
    )
    with (folder / "output.log").open("w") as out:
        return subprocess.Popen(
            command, env=env, cwd=folder, stdout=out, stderr=subprocess.STDOUT
        )


def entry(journal: dict, name: str) -> dict:
    return next(
        r
        for r in journal["run"] + journal["rollbacks"]
        if r["activity"]["name"] == name
    )


def test_two_chaos_runs_in_one_namespace_each_get_their_own_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Lab(LabOptions(reviews_port=0, litmus_startup_s=0.5, seed=21)) as lab:
        assert lab.server is not None and lab.dataplane is not None
        server, ns = lab.server, world.NAMESPACE
        use_kubeconfig(monkeypatch, lab.env())
        runs = {e: chaos_run(lab, e, tmp_path / e) for e in ("run-a", "run-b")}
        try:
            # Both faults are on at the same moment...
            poll(
                lambda: all(running_result(server, ns, e) for e in runs),
                "both runs' ChaosResults Running at once",
            )
            # Running comes before the injection (Litmus' helper start-up).
            poll(
                lambda: len(lab.dataplane.faults.active()) == 2,
                "both faults injected at once",
            )
            # ...then a person stops run-b's engine; run-a must not notice.
            stopped = actions.stop_engine("run-b", ns)
            assert stopped["stopped"] is True
            codes = {e: p.wait(timeout=120) for e, p in runs.items()}
        finally:
            for process in runs.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()
        logs = {e: (tmp_path / e / "output.log").read_text()[-3000:] for e in runs}
        assert codes == {"run-a": 0, "run-b": 0}, logs
        journals = {
            e: json.loads((tmp_path / e / "journal.json").read_text()) for e in runs
        }
        expected = {"run-a": "Pass", "run-b": "Stopped"}
        for engine, journal in journals.items():
            assert journal["status"] == "completed" and journal["deviated"] is False
            launched = entry(journal, "launch-ratings-network-latency")["output"]
            assert launched["engine_name"] == engine
            verdict = entry(journal, "record-litmus-verdict")
            assert verdict["status"] == "succeeded", verdict.get("exception")
            assert verdict["output"]["engine_name"] == engine
            assert verdict["output"]["result_name"] == f"{engine}-pod-network-latency"
            assert verdict["output"]["verdict"] == expected[engine]
            assert all(r["status"] == "succeeded" for r in journal["rollbacks"])
            result = result_summary(
                store_get(server, RESULTS, ns, f"{engine}-pod-network-latency")
            )
            assert result["verdict"] == expected[engine]
            assert sum(result["history"].values()) == 1
        assert names(server, ENGINES, ns) == []
        assert lab.dataplane.faults.active() == {}


# ------------------------------------------ activity calls across namespaces


@pytest.fixture(scope="module")
def control_plane(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ApiServerThread, RecordingFaultSink, str]]:
    """API server + Litmus operator, the world in two namespaces (different
    seeds, so pod names differ and a cross-namespace mix-up is visible)."""
    sink = RecordingFaultSink()
    options = LabOptions(litmus_startup_s=0.2, litmus_inject_delay_s=0.2)
    with ControlPlane(options, fault_sink=sink, operator_seed=23) as control:
        control.seed(LabOptions(namespace=EAST, seed=1))
        path = tmp_path_factory.mktemp("control-plane") / "kubeconfig"
        yield control.server, sink, str(control.write_kubeconfig(path))


@pytest.fixture
def plane(
    control_plane: tuple[ApiServerThread, RecordingFaultSink, str],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[ApiServerThread, RecordingFaultSink]:
    server, sink, kubeconfig = control_plane
    use_kubeconfig(monkeypatch, {"KUBECONFIG": kubeconfig})
    return server, sink


def ratings_pods(server: ApiServerThread, ns: str) -> set[str]:
    items, _ = server.call(server.store.list, PODS, ns, "app=ratings")
    return {p["metadata"]["name"] for p in items}


def test_runs_in_two_namespaces_at_once_do_not_cross_talk(
    plane: tuple[ApiServerThread, RecordingFaultSink],
) -> None:
    server, sink = plane
    pods = {ns: ratings_pods(server, ns) for ns in (world.NAMESPACE, EAST)}
    assert not pods[world.NAMESPACE] & pods[EAST]
    faults_before = len(sink.of("start_latency"))
    start = threading.Barrier(4, timeout=TIMEOUT_S)

    def twin_here() -> dict:  # same engine name as in EAST, runs to the end
        start.wait()
        return actions.inject_network_latency(
            world.NAMESPACE, "app=ratings", latency_ms=3000, duration_s=2,
            engine_name="twin", timeout_s=TIMEOUT_S,
        )  # fmt: skip

    def twin_east() -> dict:  # same engine name, stopped once its fault is on
        start.wait()
        actions.inject_network_latency(
            EAST, "app=ratings", latency_ms=3100, duration_s=30,
            engine_name="twin", wait=False,
        )  # fmt: skip
        actions.wait_for_chaos_started("twin", EAST, timeout_s=TIMEOUT_S)
        actions.stop_engine("twin", EAST)
        return actions.wait_for_result("twin", EAST, timeout_s=TIMEOUT_S)

    def generated(ns: str, latency_ms: int) -> Callable[[], dict]:
        def call() -> dict:
            start.wait()
            return actions.run_experiment(
                "pod-network-latency", ns, "app=ratings",
                env={"TOTAL_CHAOS_DURATION": "2", "NETWORK_LATENCY": str(latency_ms)},
                timeout_s=TIMEOUT_S,
            )  # fmt: skip

        return call

    calls = {
        "twin-here": twin_here,
        "twin-east": twin_east,
        "gen-here": generated(world.NAMESPACE, 2000),
        "gen-east": generated(EAST, 2100),
    }
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = {label: pool.submit(call) for label, call in calls.items()}
        out = {label: f.result(timeout=2 * TIMEOUT_S) for label, f in futures.items()}

    home = {
        "twin-here": world.NAMESPACE,
        "twin-east": EAST,
        "gen-here": world.NAMESPACE,
        "gen-east": EAST,
    }
    for label, outcome in out.items():
        assert outcome["namespace"] == home[label], label
        expected = f"{outcome['engine_name']}-pod-network-latency"
        assert outcome["result_name"] == expected
        assert set(outcome.get("target_pods", [])) <= pods[home[label]], label
    assert out["twin-here"]["engine_name"] == out["twin-east"]["engine_name"] == "twin"
    assert out["twin-here"]["verdict"] == "Pass"
    assert out["twin-east"]["verdict"] == "Stopped"
    generated_names = {out["gen-here"]["engine_name"], out["gen-east"]["engine_name"]}
    assert len(generated_names) == 2
    assert all(n.startswith("pod-network-latency-") for n in generated_names)
    assert out["gen-here"]["verdict"] == out["gen-east"]["verdict"] == "Pass"
    # Each fault hit its own namespace's pods, with its own latency.
    started = sink.of("start_latency")[faults_before:]
    assert sorted((f["namespace"], f["latency_ms"]) for f in started) == [
        (world.NAMESPACE, 2000),
        (world.NAMESPACE, 3000),
        (EAST, 2100),
        (EAST, 3100),
    ]
    assert all(set(f["pod_names"]) <= pods[f["namespace"]] for f in started)
    # The two "twin" results live side by side, each with its own history.
    here = result_summary(
        store_get(server, RESULTS, world.NAMESPACE, "twin-pod-network-latency")
    )
    east = result_summary(store_get(server, RESULTS, EAST, "twin-pod-network-latency"))
    assert (here["verdict"], here["history"]["passed_runs"]) == ("Pass", 1)
    assert (east["verdict"], east["history"]["stopped_runs"]) == ("Stopped", 1)
    assert east["history"]["passed_runs"] == 0

    for label, outcome in out.items():
        gone = actions.delete_engine(outcome["engine_name"], home[label], timeout_s=30)
        assert gone["gone"] is True
    assert names(server, ENGINES, world.NAMESPACE) == names(server, ENGINES, EAST) == []
    stopped = {c["fault_id"] for c in sink.of("stop")}
    assert {f["fault_id"] for f in started} <= stopped


def test_the_same_engine_three_times_in_a_row_reports_each_run_s_verdict(
    plane: tuple[ApiServerThread, RecordingFaultSink],
) -> None:
    """Pass, then Stopped, then Pass again on one reused ChaosResult."""
    server, _ = plane
    ns, name = world.NAMESPACE, "again"
    result_name = f"{name}-pod-network-latency"

    def engine_uid() -> str:
        found = store_get(server, ENGINES, ns, name)
        assert found is not None
        return found["metadata"]["uid"]

    first = actions.inject_network_latency(
        ns, "app=ratings", duration_s=1, engine_name=name, timeout_s=TIMEOUT_S
    )
    assert first["verdict"] == "Pass"
    assert first["history"] == {"passed_runs": 1, "failed_runs": 0, "stopped_runs": 0}
    assert actions.delete_engine(name, ns)["gone"] is True

    # Second run: the result still says Pass (final) from run one.
    actions.inject_network_latency(
        ns, "app=ratings", duration_s=30, engine_name=name, wait=False
    )
    uid = engine_uid()
    started = actions.wait_for_chaos_started(name, ns, timeout_s=TIMEOUT_S)
    assert started["phase"] == "Running"
    # It returned for this run's fault, not because run one's result is final.
    result = store_get(server, RESULTS, ns, result_name)
    assert result is not None and result["metadata"]["labels"]["chaosUID"] == uid
    assert result_summary(result)["phase"] == "Running"
    actions.stop_engine(name, ns)
    second = actions.wait_for_result(name, ns, timeout_s=TIMEOUT_S)
    assert second["verdict"] == "Stopped"
    # Not second["history"]: when the stopped engine is seen before the result,
    # the outcome is the engine's and its history is empty (see the report).
    stored = result_summary(store_get(server, RESULTS, ns, result_name))
    assert stored["verdict"] == "Stopped"
    assert stored["history"] == {"passed_runs": 1, "failed_runs": 0, "stopped_runs": 1}
    assert actions.delete_engine(name, ns)["gone"] is True

    # Third run: the result now says Stopped (final) from run two.
    actions.inject_network_latency(
        ns, "app=ratings", duration_s=1, engine_name=name, wait=False
    )
    third = actions.wait_for_result(name, ns, timeout_s=TIMEOUT_S)
    assert third["verdict"] == "Pass"
    assert third["history"] == {"passed_runs": 2, "failed_runs": 0, "stopped_runs": 1}
    assert actions.delete_engine(name, ns)["gone"] is True
    assert name not in names(server, ENGINES, ns)
