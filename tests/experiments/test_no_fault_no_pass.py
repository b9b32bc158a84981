"""No fault, no pass: the three ways a run without its fault used to end
"completed" (exit 0), replayed with `chaos run` on the lab.

(a) the fault action fails (here: an argument Litmus' stand-in refuses);
(b) an engine left by an earlier run with `--rollback-strategy never`;
(c) the steady state is not met before the method.

Each must end "interrupted" (exit 1) with the reason in the journal's
`fault_evidence`, the rollbacks run, and the report saying
"fault NOT injected".
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from chaoslitmus.lab import Lab, LabOptions
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.report.html import render_html
from chaoslitmus.report.markdown import render_markdown
from chaoslitmus.report.model import build_run

from .test_experiments_e2e import ENGINES, EXPERIMENTS, SHORT, chaos, engines

FAULT = "launch-ratings-network-latency"


@pytest.fixture(scope="module")
def lab():
    options = LabOptions(
        reviews_port=0, litmus_startup_s=0.3, litmus_inject_delay_s=0.5, seed=11
    )
    with Lab(options) as lab:
        yield lab


def run(lab: Lab, experiment: dict, tmp_path: Path, *extra: str, **env_over):
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(experiment))
    journal = tmp_path / "journal.json"
    env = {**os.environ, **lab.env(), **SHORT, **env_over}
    done = chaos(
        ["run", *extra, "--journal-path", str(journal), str(path)], env, tmp_path
    )
    assert journal.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return done, json.loads(journal.read_text())


def load(name: str = "ratings-latency.json") -> dict:
    return json.loads((EXPERIMENTS / name).read_text())


def activity(experiment: dict, name: str) -> dict:
    return next(a for a in experiment["method"] if a.get("name") == name)


def assert_report_says_not_injected(journal: dict) -> None:
    run = build_run(journal, "journal.json")
    html = render_html([run], None)
    # The at-a-glance cell is red ("bad" tone) and says so.
    assert re.search(r'<td class="bad">[^<]*fault NOT injected', html), html[:2000]
    assert "fault NOT injected" in render_markdown([run], None)


def assert_not_injected(journal: dict, reason_part: str, rollbacks=True) -> None:
    assert journal["status"] == "interrupted"
    evidence = journal["fault_evidence"]
    assert evidence["injected"] is False
    assert reason_part in evidence["reason"], evidence["reason"]
    assert "\n" not in evidence["reason"]
    ran = {r["activity"]["name"]: r for r in journal["rollbacks"]}
    if rollbacks:
        assert ran["delete-chaos-engine"]["status"] == "succeeded"
    else:
        assert not ran  # --rollback-strategy never was asked for


def test_a_failing_fault_action_interrupts_the_run(lab, tmp_path):
    experiment = load()
    activity(experiment, FAULT)["provider"]["arguments"]["latency_ms"] = -5
    done, journal = run(lab, experiment, tmp_path)
    assert done.returncode == 1, done.stderr[-3000:]
    assert_not_injected(journal, f"fault action '{FAULT}' failed")
    # Nothing ran after the failed fault: no traffic was measured "under" it.
    names = [r["activity"]["name"] for r in journal["run"]]
    assert names[-1] == FAULT
    assert journal["steady_states"]["after"] is None
    assert_report_says_not_injected(journal)
    assert engines(lab) == []


def test_an_engine_left_by_an_earlier_run_is_not_taken(lab, tmp_path):
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    (tmp_path / "third").mkdir()
    _, first = run(lab, load(), tmp_path / "first", "--rollback-strategy", "never")
    assert first["fault_evidence"]["injected"] is True
    assert engines(lab) == ["ratings-latency"]  # left behind on purpose
    deadline = time.monotonic() + 60  # its fault ends: the steady state is back
    while not engine_finished(lab) and time.monotonic() < deadline:
        time.sleep(0.5)

    # The next run cannot create its engine ("already exists"): interrupted.
    done, second = run(lab, load(), tmp_path / "second", "--rollback-strategy", "never")
    assert done.returncode == 1, done.stderr[-3000:]
    assert_not_injected(second, "already exists", rollbacks=False)
    assert_report_says_not_injected(second)

    # Without the launch, the wait alone must refuse the old, finished engine.
    experiment = load()
    experiment["method"].remove(activity(experiment, FAULT))
    done, third = run(lab, experiment, tmp_path / "third")
    assert done.returncode == 1, done.stderr[-3000:]
    assert_not_injected(third, "had already finished")
    assert_report_says_not_injected(third)
    assert engines(lab) == []  # this run's rollbacks deleted it


def test_steady_state_missed_before_the_method_is_not_a_pass(lab, tmp_path):
    # A reviews timeout of 1 ms cannot be met: the gate fails, the method is
    # skipped, and Chaos Toolkit alone would say "completed" with exit 0.
    done, journal = run(lab, load(), tmp_path, REVIEWS_TIMEOUT_MS="1")
    assert done.returncode == 1, done.stderr[-3000:]
    assert journal["steady_states"]["before"]["steady_state_met"] is False
    assert journal["run"] == []
    assert_not_injected(journal, "steady state not met before the method")
    assert_report_says_not_injected(journal)
    assert engines(lab) == []


def test_the_retry_experiment_cannot_pass_without_its_fault(lab, tmp_path):
    experiment = load("ratings-latency-retry.json")
    activity(experiment, FAULT)["provider"]["arguments"]["latency_ms"] = -5
    done, journal = run(lab, experiment, tmp_path)
    assert done.returncode == 1, done.stderr[-3000:]
    assert_not_injected(journal, f"fault action '{FAULT}' failed")
    restored = {r["activity"]["name"]: r for r in journal["rollbacks"]}
    assert restored["restore-mesh-retry-policy"]["status"] == "succeeded"
    assert_report_says_not_injected(journal)


def engine_finished(lab: Lab) -> bool:
    engine = lab.server.call(
        lab.server.store.get, ENGINES, world.NAMESPACE, "ratings-latency"
    )
    return (engine.get("status") or {}).get("engineStatus") == "completed"
