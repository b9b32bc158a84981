"""docs/ci.md runs as written: its workflow's `run:` steps, executed in a
scratch folder (all but `pip install`, already done here), produce journals,
a job summary, an HTML report and a JUnit file that validates and reads
back; the gate passes, and fails when a committed baseline is beaten.

The experiments' own variables shorten the runs (a 12 s fault), as the page
suggests; the commands are the page's, unchanged.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "ci.md"
SCHEMA = ROOT / "tests" / "report" / "data" / "junit.xsd"
SHORT = {
    "FAULT_DURATION_S": "12",
    "HYPOTHESIS_WINDOW_S": "2",
    "FAULT_WINDOW_S": "3",
    "CHAOS_START_TIMEOUT_S": "30",
    "RESULT_TIMEOUT_S": "60",
    "RECOVERY_WITHIN_S": "20",
}


def workflow() -> dict:
    blocks = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(), re.S)
    assert len(blocks) == 1, "docs/ci.md should hold one workflow"
    return yaml.safe_load(blocks[0])


def run_steps() -> list[tuple[str, str]]:
    """(name, script) of each step that runs shell, `pip install` lines removed."""
    steps = []
    for job in workflow()["jobs"].values():
        for step in job["steps"]:
            if "run" not in step:
                continue
            lines = [
                line
                for line in step["run"].splitlines()
                if not line.strip().startswith("pip install")
            ]
            if any(line.strip() for line in lines):
                steps.append((step.get("name", "?"), "\n".join(lines) + "\n"))
    return steps


def test_the_workflow_is_what_the_page_says():
    flow = workflow()
    steps = flow["jobs"]["chaos"]["steps"]
    uses = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    assert uses == [
        "actions/checkout",
        "actions/setup-python",
        "actions/upload-artifact",
        "mikepenz/action-junit-report",
    ]
    assert steps[2]["run"].strip() == 'pip install ".[lab,report]"'
    assert [name for name, _ in run_steps()] == [
        "Run both experiments on the lab",
        "Report, and gate",
    ]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("runner")
    shutil.copytree(ROOT / "experiments", folder / "experiments")
    (folder / "home").mkdir()
    return folder


def execute(script: str, folder: Path, summary: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **SHORT,
        "HOME": str(folder / "home"),
        "GITHUB_STEP_SUMMARY": str(summary),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
    }
    # GitHub runs `run:` with bash -e -o pipefail.
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )


def test_the_workflow_runs_as_written(scratch: Path):
    summary = scratch / "summary.md"
    outcomes = {}
    for name, script in run_steps():
        outcomes[name] = execute(script, scratch, summary)

    ran = outcomes["Run both experiments on the lab"]
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "chaos exited 1" in ran.stdout  # the no-retry run deviates
    gate = outcomes["Report, and gate"]
    assert gate.returncode == 0, gate.stderr[-3000:]

    assert summary.read_text().startswith("## Chaos experiments: all 2 passed\n")
    assert (scratch / "report.html").read_text().startswith("<!DOCTYPE html>")
    results = scratch / "results.xml"
    xmlschema.XMLSchema(SCHEMA).validate(str(results))
    root = ET.parse(results).getroot()
    assert root.get("failures") == "0" and root.get("errors") == "0"
    names = {case.get("name") for case in root.iter("testcase")}
    assert {"no-fault-left", "reviews-recovered", "experiment outcome"} <= names


def test_the_gate_uses_a_committed_baseline(scratch: Path):
    if not (scratch / "journal-retry.json").exists():
        pytest.skip("needs the journals of test_the_workflow_runs_as_written")
    gate = dict(run_steps())["Report, and gate"]
    (scratch / "ci").mkdir(exist_ok=True)
    baseline = json.loads((scratch / "journal-retry.json").read_text())
    (scratch / "ci" / "baseline-retry.json").write_text(json.dumps(baseline))

    same = execute(gate, scratch, scratch / "summary-2.md")
    assert same.returncode == 0, same.stderr[-2000:]
    cases = {c.get("name") for c in ET.parse(scratch / "results.xml").iter("testcase")}
    assert "baseline comparison" in cases

    # A baseline twice as good as this run: every window regressed.
    for record in baseline["run"]:
        output = record.get("output")
        if isinstance(output, dict) and "latency_ms" in output:
            output["latency_ms"] = {k: v / 2 for k, v in output["latency_ms"].items()}
    (scratch / "ci" / "baseline-retry.json").write_text(json.dumps(baseline))
    worse = execute(gate, scratch, scratch / "summary-3.md")
    assert worse.returncode == 1
    assert "gate failed: journal-retry.json: regression: " in worse.stderr
    assert "reviews-traffic-during-fault (method): p99 " in worse.stderr
