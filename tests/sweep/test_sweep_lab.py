"""`chaoslitmus sweep` on the lab, as a user runs it: the JSON, the
recommendation, the report, the exported variables in the retry experiment,
and an interrupted sweep that leaves the cluster as it found it.

Faults of 3 s; the lab's Litmus and mesh delays are shortened (the data
plane's model is the default one, so the figures are the story's).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaoslitmus.lab import Lab, LabOptions
from chaoslitmus.lab.bookinfo import world

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
ENGINES = "litmuschaos.io/v1alpha1/chaosengines"
MESH_OBJECTS = [
    ("appmesh.k8s.aws/v1beta2/virtualrouters", world.RATINGS_ROUTER),
    ("appmesh.k8s.aws/v1beta2/virtualservices", world.RATINGS_VIRTUAL_SERVICE),
]
GRID = ["--latency-ms", "3000", "--max-retries", "0,1", "--per-try-ms", "1000,3000"]


@pytest.fixture(scope="module")
def lab():
    options = LabOptions(
        reviews_port=0,
        litmus_startup_s=0.3,
        litmus_inject_delay_s=0.3,
        mesh_propagation_ms=200,
        seed=5,
    )
    with Lab(options) as running:
        yield running


def routes(lab: Lab) -> str:
    """The mesh objects' specs and annotations, as the lab's API holds them."""
    store = lab.server.store
    objects = [
        lab.server.call(store.get, key, world.NAMESPACE, name)
        for key, name in MESH_OBJECTS
    ]
    return json.dumps(
        [
            {"spec": o["spec"], "annotations": o["metadata"].get("annotations")}
            for o in objects
        ],
        sort_keys=True,
    )


def engines(lab: Lab) -> list[str]:
    items, _ = lab.server.call(lab.server.store.list, ENGINES, world.NAMESPACE)
    return [e["metadata"]["name"] for e in items]


def sweep_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "chaoslitmus.cli", "sweep", *args]


@pytest.fixture(scope="module")
def swept(lab, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    before = routes(lab)
    done = subprocess.run(
        sweep_command(
            *GRID,
            "--fault-s",
            "3",
            "-o",
            "sweep.json",
            "--emit-experiment-vars",
            "vars.json",
        ),
        env={**os.environ, **lab.env()},
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return folder, done, before


def test_the_sweep_writes_its_cells_and_recommends_one_retry(lab, swept):
    folder, done, before = swept
    assert done.returncode == 0, done.stderr[-3000:]
    # pruned before running, and said why
    assert "pruned 0 x 3000 ms: per-try timeout 3000 ms is at or above" in done.stderr
    document = json.loads((folder / "sweep.json").read_text())
    assert document["kind"] == "chaoslitmus-sweep"
    assert document["status"] == "complete"
    assert {p["policy"]["per_retry_timeout_ms"] for p in document["pruned"]} == {3000}
    cells = {c["policy"]["max_retries"]: c for c in document["cells"]}
    assert sorted(cells) == [0, 1]
    # without retries, the slow pod's answers miss the per-try timeout
    assert not cells[0]["meets_slo"]
    assert cells[0]["retries"]["rescued"] == 0
    # one retry rescues them, and the counters say so
    assert cells[1]["meets_slo"], cells[1]
    assert cells[1]["retries"]["rescued"] > 0
    assert cells[1]["retries"]["attempts_per_request"] > 1
    assert all(c["injected"]["targets"] for c in document["cells"])
    recommended = document["recommendation"]["recommended"]["policy"]
    assert recommended["max_retries"] == 1
    assert recommended["per_retry_timeout_ms"] < 2500
    assert "Use 1 x 1000 ms" in done.stderr
    # every change rolled back
    assert engines(lab) == []
    assert routes(lab) == before


def test_the_report_renders_the_sweep(swept):
    folder, done, _ = swept
    assert done.returncode == 0, done.stderr[-3000:]
    for args, name in (
        (["-o", "sweep.html"], "sweep.html"),
        (["--format", "markdown", "-o", "sweep.md"], "sweep.md"),
    ):
        report = subprocess.run(
            [sys.executable, "-m", "chaoslitmus.cli", "report", "sweep.json", *args],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert report.returncode == 0, report.stderr
        text = (folder / name).read_text()
        assert "Use 1 x 1000 ms" in text
        assert "3000 ms on 50% of pods" in text


def test_the_exported_variables_drive_the_retry_experiment(lab, swept):
    folder, done, before = swept
    assert done.returncode == 0, done.stderr[-3000:]
    variables = json.loads((folder / "vars.json").read_text())
    assert variables == {
        "configuration": {
            "max_retries": 1,
            "per_retry_timeout_ms": 1000,
            "http_retry_events": ["server-error"],
        }
    }
    settings = folder / "settings.yaml"
    settings.write_text("{}\n")
    short = {
        "FAULT_DURATION_S": "8",
        "HYPOTHESIS_WINDOW_S": "2",
        "FAULT_WINDOW_S": "3",
        "CHAOS_START_TIMEOUT_S": "30",
        "RESULT_TIMEOUT_S": "60",
    }
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "from chaostoolkit.cli import cli; cli()",
            "--no-version-check",
            "--no-log-file",
            "--settings",
            str(settings),
            "run",
            "--var-file",
            "vars.json",
            "--journal-path",
            "journal.json",
            str(EXPERIMENTS / "ratings-latency-retry.json"),
        ],
        env={**os.environ, **lab.env(), **short},
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=240,
    )
    journal = json.loads((folder / "journal.json").read_text())
    assert journal["status"] == "completed", run.stdout[-2000:] + run.stderr[-2000:]
    applied = next(
        r for r in journal["run"] if r["activity"]["name"] == "apply-mesh-retry-policy"
    )
    after = [route["after"] for route in applied["output"]["routes"]]
    assert after and all(p["max_retries"] == 1 for p in after), after
    assert all(p["per_retry_timeout_ms"] == 1000 for p in after), after
    assert engines(lab) == []
    assert routes(lab) == before


def test_ctrl_c_mid_cell_stops_the_fault_restores_the_policy_keeps_cells(lab, tmp_path):
    before = routes(lab)
    output = tmp_path / "sweep.json"
    child = subprocess.Popen(
        sweep_command(*GRID, "--fault-s", "3", "-o", str(output)),
        env={**os.environ, **lab.env()},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        # wait for the first cell to be written, then for the second cell's fault
        while time.monotonic() < deadline:
            if output.exists():
                cells = json.loads(output.read_text())["cells"]
                if cells and engines(lab):
                    break
            time.sleep(0.1)
        else:
            pytest.fail("the second cell never started")
        time.sleep(1.0)  # mid-cell: policy set, fault launched
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, stderr[-3000:]
    assert "interrupted: kept 1 finished cell(s) of 2" in stderr
    document = json.loads(output.read_text())
    assert document["status"] == "interrupted"
    assert len(document["cells"]) == 1
    assert engines(lab) == []
    assert routes(lab) == before
