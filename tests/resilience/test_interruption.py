"""Interrupting `chaos run experiments/ratings-latency-retry.json` in the middle
of the fault: nothing may be left behind.

What chaostoolkit 1.19 / chaostoolkit-lib 1.44 really do (read in
chaoslib/run.py, chaoslib/exit.py, chaoslib/provider/python.py):

- SIGINT raises KeyboardInterrupt in the main thread. It is not an
  `Exception`, so it is never swallowed by an activity; the run ends
  "interrupted" and rollbacks run per strategy (`always` in our files).
- SIGTERM raises `InterruptExecution`, which IS an `Exception`. While the main
  thread waits for background activities (our case mid-fault) it ends the run
  "interrupted" like SIGINT. While a Python activity runs in the main thread,
  the provider wraps it into `ActivityFailed`: only that activity fails and the
  run goes on (a hypothesis probe hit this way makes the run "failed" and
  "deviated"). With `rollbacks.strategy: always` the rollbacks still run.
- SIGKILL runs nothing; the rollback activities, run again from a fresh
  process, repair everything because what they need lives in the cluster.

Our experiments therefore declare the `chaoslitmus.controls.safe_interrupt`
control: SIGTERM behaves like SIGINT (even inside an activity), and on an
interruption the engine is stopped before the rollbacks, so the fault ends
at once and the recorded verdict is "Stopped".

Each run here reuses one lab and one engine name, as a user re-running the
file does: the ChaosResult is reused by Litmus, so every journal is also
checked to hold its own run's verdict (the result's history grew by one).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoslitmus.lab import ApiError, Lab, LabOptions
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.litmus.status import result_summary, runs_recorded

from ..chaos_cli import chaos_command

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "experiments" / "ratings-latency-retry.json"
ENGINE = "ratings-latency-retry"  # the file's default engine_name
RESULT = f"{ENGINE}-pod-network-latency"
ENGINES = "litmuschaos.io/v1alpha1/chaosengines"
RESULTS = "litmuschaos.io/v1alpha1/chaosresults"
MESH = [
    ("appmesh.k8s.aws/v1beta2/virtualrouters", world.RATINGS_ROUTER),
    ("appmesh.k8s.aws/v1beta2/virtualservices", world.RATINGS_VIRTUAL_SERVICE),
]
ROLLBACKS = [
    "record-litmus-verdict",
    "delete-chaos-engine",
    "restore-mesh-retry-policy",
    "wait-until-original-policy-applied",
    "no-fault-left",
    "reviews-recovered",
]
# A 6 s fault: the signal lands about 0.3 s after the fault traffic starts, so
# the fault has seconds left; 1-2 s traffic windows keep each run near 10 s.
SHORT = {
    "FAULT_DURATION_S": "6",
    "HYPOTHESIS_WINDOW_S": "1",
    "FAULT_WINDOW_S": "2",
    "TRAFFIC_RATE_PER_S": "5",
    "CHAOS_START_TIMEOUT_S": "30",
    "RESULT_TIMEOUT_S": "60",
}
# Logged by chaos when the method reaches the background traffic, i.e. right
# after wait-until-latency-is-injected returned: the fault is on.
MID_FAULT = "reviews-traffic-during-fault [in background]"
# Healthy reviews answers in milliseconds; a call touching the slow pod takes
# 2 s (the retry's per-try timeout) or 2.5 s (reviews' own timeout). Under 1 s
# leaves a loaded 2-core box plenty of room and still proves no fault is on.
FAST_S = 1.0


def subprocess_env(extra: dict[str, str]) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {
        **os.environ,
        **SHORT,
        **extra,
        "PYTHONPATH": path,
        "PYTHONUNBUFFERED": "1",
    }


class WatchedProcess:
    """A subprocess whose combined output goes to a file we can poll."""

    def __init__(self, command: list[str], env: dict[str, str], folder: Path) -> None:
        self.log = folder / "output.log"
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                command, env=env, cwd=folder, stdout=out, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, marker: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while marker not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"never saw {marker!r}:\n{self.output()[-4000:]}")
            time.sleep(0.02)

    def finish(self, timeout_s: float = 90) -> int:
        return self.process.wait(timeout=timeout_s)

    def kill(self) -> None:
        """After a failed test: kill it and the children it started (`lab run`
        puts chaos in a process group of its own), by pid."""
        if self.process.poll() is not None:
            return
        for pid in children(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.kill()
        self.process.wait()


def children(parent: int) -> list[int]:
    """Pids whose parent is `parent` (Linux /proc; empty elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            # "pid (comm) state ppid ...": comm may hold spaces, split after ")".
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(stat.parent.name))
    return found


# ------------------------------------------------------------------- the lab


def store_get(lab: Lab, key: str, name: str) -> dict | None:
    assert lab.server is not None
    try:
        return lab.server.call(lab.server.store.get, key, world.NAMESPACE, name)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def engine_names(lab: Lab) -> list[str]:
    assert lab.server is not None
    items, _ = lab.server.call(lab.server.store.list, ENGINES, world.NAMESPACE)
    return [e["metadata"]["name"] for e in items]


def mesh_state(lab: Lab) -> str:
    """Spec and annotations of the mesh objects, byte for byte."""
    objects = [store_get(lab, key, name) for key, name in MESH]
    return json.dumps(
        [
            {"spec": o["spec"], "annotations": o["metadata"].get("annotations")}
            for o in objects
        ],  # type: ignore[index]
        sort_keys=True,
    )


def reviews_calls(lab: Lab, count: int = 10) -> list[tuple[int, float]]:
    """(status, seconds) of sequential GET /reviews/0 (round robin: both pods)."""
    calls = []
    for _ in range(count):
        began = time.monotonic()
        try:
            with urllib.request.urlopen(lab.reviews_url, timeout=10) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        calls.append((status, time.monotonic() - began))
    return calls


def assert_fault_is_live(lab: Lab, before: str) -> None:
    """The moment of the signal: our run's result Running, the data plane slow,
    the retry policy applied."""
    engine = store_get(lab, ENGINES, ENGINE)
    result = store_get(lab, RESULTS, RESULT)
    assert engine is not None and result is not None
    assert result["metadata"]["labels"]["chaosUID"] == engine["metadata"]["uid"]
    assert result_summary(result)["phase"] == "Running"
    assert lab.dataplane is not None and lab.dataplane.faults.active()
    assert mesh_state(lab) != before


def assert_nothing_left(lab: Lab, before: str) -> None:
    assert engine_names(lab) == []
    assert lab.dataplane is not None and lab.dataplane.faults.active() == {}
    calls = reviews_calls(lab)
    assert all(status == 200 for status, _ in calls), calls
    assert max(seconds for _, seconds in calls) < FAST_S, calls
    assert mesh_state(lab) == before


def runs_so_far(lab: Lab) -> int:
    return runs_recorded(store_get(lab, RESULTS, RESULT))


def rollback(journal: dict, name: str) -> dict:
    return next(r for r in journal["rollbacks"] if r["activity"]["name"] == name)


def assert_rolled_back(
    journal: dict, runs_before: int, verdict_expected: str = "Stopped"
) -> None:
    """Every rollback ran and succeeded, and the verdict is this run's own
    (Stopped: the safe-interrupt control ends the fault at once)."""
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == ROLLBACKS
    assert all(r["status"] == "succeeded" for r in journal["rollbacks"]), [
        r.get("exception") for r in journal["rollbacks"]
    ]
    verdict = rollback(journal, "record-litmus-verdict")["output"]
    assert verdict["engine_name"] == ENGINE
    assert verdict["verdict"] == verdict_expected
    assert sum(verdict["history"].values()) == runs_before + 1
    deleted = rollback(journal, "delete-chaos-engine")["output"]
    assert deleted["deleted"] is True and deleted["gone"] is True
    assert rollback(journal, "restore-mesh-retry-policy")["output"]["restored"] is True


@pytest.fixture(scope="module")
def story_lab() -> Iterator[Lab]:
    with Lab(LabOptions(reviews_port=0, litmus_startup_s=0.5, seed=11)) as lab:
        yield lab


@pytest.fixture(scope="module")
def pristine(story_lab: Lab) -> str:
    """The mesh objects as the lab seeded them, before any run."""
    return mesh_state(story_lab)


@pytest.fixture
def story(story_lab: Lab, pristine: str, tmp_path: Path) -> Iterator[Lab]:
    """The shared lab; after each test, whatever a failed test left is undone
    with the extension's own rollbacks, so the next test starts clean."""
    yield story_lab
    if engine_names(story_lab) or mesh_state(story_lab) != pristine:
        repair(story_lab, tmp_path / "cleanup")


def run_chaos(lab: Lab, folder: Path, *args: str, **env: str) -> WatchedProcess:
    settings = folder / "settings.yaml"
    settings.write_text("{}\n")
    return WatchedProcess(
        chaos_command(settings, *args), subprocess_env({**lab.env(), **env}), folder
    )


def rollback_only_experiment(folder: Path) -> Path:
    """The shipped file's own undo steps, without the verdict wait: what a user
    runs after a crash (same configuration, same names)."""
    shipped = json.loads(EXPERIMENT.read_text())
    repair = {
        "version": shipped["version"],
        "title": "Undo an interrupted ratings-latency-retry run",
        "description": "Deletes the ChaosEngine and restores the mesh routes.",
        "configuration": shipped["configuration"],
        "secrets": shipped["secrets"],
        "runtime": {"rollbacks": {"strategy": "always"}},
        "method": [],
        "rollbacks": [
            r
            for r in shipped["rollbacks"]
            if r["name"] in ("delete-chaos-engine", "restore-mesh-retry-policy")
        ],
    }
    path = folder / "repair.json"
    path.write_text(json.dumps(repair, indent=2))
    return path


def repair(lab: Lab, folder: Path) -> subprocess.CompletedProcess:
    folder.mkdir(exist_ok=True)
    settings = folder / "settings.yaml"
    settings.write_text("{}\n")
    journal = folder / "repair.journal.json"
    return subprocess.run(
        chaos_command(
            settings,
            "run",
            "--journal-path",
            str(journal),
            str(rollback_only_experiment(folder)),
        ),
        env=subprocess_env(lab.env()),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


# ------------------------------------------------------------------ the tests


@pytest.mark.parametrize(
    ("signum", "logged"),
    [
        (signal.SIGINT, "Received a termination signal (Ctrl-C)"),
        (signal.SIGTERM, "safe-interrupt: run interrupted by SIGTERM"),
    ],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_mid_fault_rolls_everything_back(
    story: Lab, pristine: str, tmp_path: Path, signum: signal.Signals, logged: str
) -> None:
    lab, before = story, pristine
    runs_before = runs_so_far(lab)
    journal_path = tmp_path / "journal.json"
    chaos = run_chaos(
        lab, tmp_path, "run", "--journal-path", str(journal_path), str(EXPERIMENT)
    )
    try:
        chaos.wait_for(MID_FAULT)
        time.sleep(0.3)  # into the fault window: chaos now waits on the traffic
        assert_fault_is_live(lab, before)
        chaos.process.send_signal(signum)
        code = chaos.finish()
    finally:
        chaos.kill()
    output = chaos.output()
    assert code == 1, output[-3000:]
    assert logged in output
    journal = json.loads(journal_path.read_text())
    assert journal["status"] == "interrupted"
    assert journal["deviated"] is False
    assert journal["steady_states"]["after"] is None  # never measured
    assert_rolled_back(journal, runs_before)
    assert_nothing_left(lab, before)


def test_sigterm_inside_a_probe_interrupts_the_run_and_rollbacks_run(
    story: Lab, pristine: str, tmp_path: Path
) -> None:
    """On chaostoolkit-lib 1.44 a SIGTERM that lands while a Python activity
    runs would only fail that activity (a false deviation). The safe-interrupt
    control turns it into an interruption: no false finding, every rollback
    runs, the fault is stopped first."""
    lab, before = story, pristine
    runs_before = runs_so_far(lab)
    journal_path = tmp_path / "journal.json"
    settings = tmp_path / "settings.yaml"
    settings.write_text("{}\n")
    chaos = WatchedProcess(
        chaos_command(
            settings, "run", "--journal-path", str(journal_path), str(EXPERIMENT)
        ),
        # A 2 s hypothesis window, so the signal lands well inside the probe,
        # and a 10 s fault, so the fault is still on then even on a busy box.
        subprocess_env(
            {**lab.env(), "HYPOTHESIS_WINDOW_S": "2", "FAULT_DURATION_S": "10"}
        ),
        tmp_path,
    )
    try:
        chaos.wait_for(MID_FAULT)
        # The second time the hypothesis probe starts is the after-check.
        deadline = time.monotonic() + 30
        while chaos.output().count("Probe: reviews-answers-200-fast") < 2:
            assert time.monotonic() < deadline and chaos.process.poll() is None
            time.sleep(0.02)
        time.sleep(0.3)
        assert_fault_is_live(lab, before)
        chaos.process.send_signal(signal.SIGTERM)
        code = chaos.finish()
    finally:
        chaos.kill()
    assert code == 1
    journal = json.loads(journal_path.read_text())
    assert journal["status"] == "interrupted"
    assert journal["deviated"] is False  # no false finding
    assert_rolled_back(journal, runs_before)
    assert_nothing_left(lab, before)


def test_after_sigkill_the_rollbacks_from_a_fresh_process_repair_everything(
    story: Lab, pristine: str, tmp_path: Path
) -> None:
    lab, before = story, pristine
    runs_before = runs_so_far(lab)
    journal_path = tmp_path / "journal.json"
    # A 30 s fault: only the repair can end it within this test, so "reverted"
    # below is the repair's doing, not the fault running out.
    chaos = run_chaos(
        lab,
        tmp_path,
        "run",
        "--journal-path",
        str(journal_path),
        str(EXPERIMENT),
        FAULT_DURATION_S="30",
    )
    try:
        chaos.wait_for(MID_FAULT)
        time.sleep(0.3)
        assert_fault_is_live(lab, before)
        chaos.process.send_signal(signal.SIGKILL)
        assert chaos.finish() == -signal.SIGKILL
    finally:
        chaos.kill()
    # Nothing ran: the engine, the fault and the retry policy are all still on.
    assert not journal_path.exists()
    assert engine_names(lab) == [ENGINE]
    assert lab.dataplane is not None and lab.dataplane.faults.active()
    router = store_get(lab, *MESH[0])
    assert router is not None
    assert "chaoslitmus.io/original-routes" in router["metadata"]["annotations"]

    done = repair(lab, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    journal = json.loads((tmp_path / "repair.journal.json").read_text())
    assert journal["status"] == "completed"
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded", "succeeded"]
    assert journal["rollbacks"][0]["output"]["gone"] is True
    assert journal["rollbacks"][1]["output"]["restored"] is True
    assert_nothing_left(lab, before)
    # Litmus ends a deleted engine's run as Stopped: the killed run's verdict.
    result = result_summary(store_get(lab, RESULTS, RESULT))
    assert result["verdict"] == "Stopped"
    assert sum(result["history"].values()) == runs_before + 1
    # A second repair finds nothing to do and changes nothing.
    again = repair(lab, tmp_path)
    assert again.returncode == 0
    journal = json.loads((tmp_path / "repair.journal.json").read_text())
    assert journal["rollbacks"][0]["output"]["deleted"] is False
    assert journal["rollbacks"][1]["output"]["restored"] is False
    assert mesh_state(lab) == before


def test_lab_run_forwards_sigint_once_chaos_rolls_back_and_the_lab_stops(
    tmp_path: Path,
) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("{}\n")
    journal_path = tmp_path / "journal.json"
    command = [
        sys.executable,
        "-m",
        "chaoslitmus.cli",
        "lab",
        "run",
        "--reviews-port",
        "0",
        "--litmus-startup-s",
        "0.5",
        "--seed",
        "13",
        "--",
        *chaos_command(
            settings, "run", "--journal-path", str(journal_path), str(EXPERIMENT)
        ),
    ]
    lab_run = WatchedProcess(command, subprocess_env({}), tmp_path)
    try:
        lab_run.wait_for(MID_FAULT)
        time.sleep(0.3)
        # To `lab run` only: the chaos child has its own process group.
        lab_run.process.send_signal(signal.SIGINT)
        code = lab_run.finish()
    finally:
        lab_run.kill()
    output = lab_run.output()
    assert code == 1, output[-3000:]  # chaos' own code for an interrupted run
    assert output.count("Received a termination signal (Ctrl-C)") == 1
    journal = json.loads(journal_path.read_text())
    assert journal["status"] == "interrupted"
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == ROLLBACKS
    assert all(r["status"] == "succeeded" for r in journal["rollbacks"])
    assert rollback(journal, "delete-chaos-engine")["output"]["gone"] is True
    assert rollback(journal, "restore-mesh-retry-policy")["output"]["restored"] is True
    # The lab saw the fault end and the engine go before it stopped itself.
    removed = output.index(f"latency fault {world.NAMESPACE}/pod-network-latency-")
    assert " removed" in output[removed:].splitlines()[0]
    # safe-interrupt stopped the engine first (the lab saw `engineState: stop`,
    # not a deletion), then the rollback deleted it. The control logs after its
    # call returns and the lab may log first: compare each with the exit only.
    assert "stopped so Litmus reverts the fault now" in output
    aborted = re.search(r"chaosengine \S+ stopped \(chaos pods deleted", output)
    assert aborted is not None, output[-3000:]
    exited = output.index(" exited with 1")
    assert max(removed, aborted.start()) < exited < output.index("lab stopped")
    kubeconfig = output.split("KUBECONFIG=", 1)[1].split()[0]
    assert not Path(kubeconfig).exists()
