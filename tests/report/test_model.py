"""The model read from real journals: what each run shows, and no crash on odd ones."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from chaoslib.experiment import run_experiment

from chaoslitmus.report.html import render_html
from chaoslitmus.report.markdown import render_markdown
from chaoslitmus.report.model import build_run, journal_problem
from chaoslitmus.report.summary import totals

from .lab_runs import Journals


def test_run_without_retries_deviates_with_500s_in_the_fault_window(
    journals: Journals,
) -> None:
    run = build_run(journals.load(journals.no_retry), "no-retry.json")

    assert (run.file, run.status, run.deviated) == ("no-retry.json", "completed", True)
    assert run.title.startswith("A slow ratings pod")
    assert "no-retries" in run.tags
    assert run.before is not None and run.before.met is True
    assert [p.met for p in run.before.probes] == [True, True]
    assert run.after is not None and run.after.met is False
    first, second = run.after.probes
    assert first.name == "reviews-answers-200-fast" and first.met is False
    assert first.tolerance.startswith("within_slo(max_error_ratio=0")
    assert "50.0 % errors" in first.figures
    # chaoslib stopped at the first probe out of tolerance; the next is listed.
    assert (second.name, second.status, second.met) == (
        "ratings-pods-running",
        "not run",
        None,
    )

    (fault,) = run.faults
    assert (fault.engine, fault.namespace, fault.experiment) == (
        "latency-a",
        "bookinfo",
        "pod-network-latency",
    )
    assert (fault.phase, fault.verdict, fault.probe_success_percentage) == (
        "Completed",
        "Pass",
        "100",
    )
    assert fault.settings == "+400 ms for 4 s on app=ratings in bookinfo"
    assert fault.activities == (
        "launch-ratings-network-latency",
        "wait-until-latency-is-injected",
        "record-litmus-verdict",
    )
    # From the launch to the verdict: the 4 s fault at least, well under 30 s.
    assert fault.duration_s is not None and 3.5 <= fault.duration_s <= 30

    (read,) = run.mesh
    assert (read.action, read.mesh, read.target) == (
        "get_retry_policy",
        "appmesh",
        "VirtualRouter bookinfo/ratings-router",
    )
    assert [(r.route, r.before, r.changed) for r in read.routes] == [
        ("ratings-route", "none", False)
    ]
    assert run.policy_changes == ()

    assert [(t.phase, t.activity) for t in run.traffic] == [
        ("before", "reviews-answers-200-fast"),
        ("method", "reviews-traffic-during-fault"),
        ("after", "reviews-answers-200-fast"),
    ]
    (window,) = run.fault_traffic
    assert window.background and window.total == 30 and len(window.samples) == 30
    # Requests alternate between the replicas; one of them is slow.
    assert window.statuses == {"200": 15, "500": 15}
    assert {s.outcome for s in window.samples} == {"200", "500"}
    slow = [s.latency_ms for s in window.samples if s.outcome == "500"]
    assert min(slow) >= 240  # reviews gave up after 250 ms
    assert [s.status for s in run.rollbacks] == ["succeeded", "succeeded"]
    assert run.rollbacks[1].summary == "engine latency-a deleted"
    # Litmus' Pass (the fault ran) and the deviation (callers hurt) agree.
    (note,) = run.notes
    assert note.startswith("Litmus says Pass and the hypothesis deviated")


def test_run_with_retries_holds_and_records_the_policy_change(
    journals: Journals,
) -> None:
    run = build_run(journals.load(journals.retry), "retry.json")

    assert (run.status, run.deviated) == ("completed", False)
    assert run.after is not None and run.after.met is True
    (change,) = [m for m in run.policy_changes if m.phase == "method"]
    assert change.action == "set_retry_policy" and change.status == "succeeded"
    assert [(r.route, r.before, r.after, r.changed) for r in change.routes] == [
        ("ratings-route", "none", "3 retries, 2000 ms per try, on server-error", True)
    ]
    (restore,) = [m for m in run.mesh if m.phase == "rollbacks"]
    assert restore.action == "restore_retry_policy"
    assert [(r.before, r.after) for r in restore.routes] == [
        ("3 retries, 2000 ms per try, on server-error", "none")
    ]
    assert "restored" in restore.message
    figures = totals(run.fault_traffic)
    assert figures is not None
    assert (figures.total, figures.failed, figures.outcomes) == (30, 0, {"200": 30})
    # The retried requests waited out the 150 ms per-try timeout.
    assert figures.p99_ms is not None and figures.p99_ms >= 140
    assert run.faults[0].verdict == "Pass"


def test_a_failed_run_shows_the_errors_in_one_line(journals: Journals) -> None:
    run = build_run(journals.load(journals.broken), "broken.json")

    assert (run.status, run.deviated) == ("failed", True)
    assert run.title == "ratings latency with a <b>typo</b> in the label"
    launch = run.steps[0]
    assert (launch.name, launch.status) == ("launch-ratings-network-latency", "failed")
    assert launch.error.startswith("ActivityFailed: no pods match label 'app=ratingz'")
    assert "\n" not in launch.error and "Traceback" not in launch.error
    (fault,) = run.faults
    assert (fault.engine, fault.verdict, fault.experiment) == (
        "latency-c",
        "",
        "pod-network-latency",
    )
    assert "no pods match label" in fault.error
    assert run.after is not None
    health = run.after.probes[0]
    assert (health.name, health.status, health.met) == (
        "reviews-health",
        "failed",
        False,
    )
    assert health.error.startswith("ActivityFailed: failed to connect")
    assert [p.status for p in run.after.probes[1:]] == ["not run", "not run"]
    assert run.rollbacks == ()
    assert any("no rollback ran" in note for note in run.notes)
    # The background traffic ends after the break: chaoslib lists it then.
    assert sorted(s.name for s in run.steps[1:]) == [
        "break-health-endpoint",
        "reviews-traffic-during-fault",
    ]


def test_journal_of_another_experiment_shows_what_it_can() -> None:
    experiment = {
        "title": "tmp exists",
        "description": "nothing to do with Litmus",
        "steady-state-hypothesis": {
            "title": "tmp is there",
            "probes": [
                {
                    "type": "probe",
                    "name": "tmp-exists",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "os.path",
                        "func": "exists",
                        "arguments": {"path": "."},
                    },
                }
            ],
        },
        "method": [
            {
                "type": "action",
                "name": "list-tmp",
                "provider": {
                    "type": "python",
                    "module": "os",
                    "func": "listdir",
                    "arguments": {"path": "/no/such/folder"},
                },
            }
        ],
    }
    journal = json.loads(json.dumps(run_experiment(experiment), default=str))
    run = build_run(journal, "other.json")

    assert run.status == "completed" and run.deviated is False
    assert run.faults == () and run.mesh == () and run.traffic == ()
    (step,) = run.steps
    assert step.status == "failed"
    assert step.error.startswith("ActivityFailed: FileNotFoundError: [Errno 2]")
    assert run.after is not None and run.after.probes[0].figures == "true"
    assert "<svg" not in render_html([run])  # nothing to chart, no crash
    assert "No traffic was recorded" in render_markdown([run])


def test_missing_and_null_pieces_give_empty_values() -> None:
    run = build_run({"experiment": {}, "status": "failed"})
    assert (run.title, run.status, run.deviated) == (
        "(untitled experiment)",
        "failed",
        None,
    )
    assert run.before is None and run.after is None and run.steps == ()
    nulls = build_run(
        {
            "experiment": {"title": None, "tags": None},
            "steady_states": {"before": None, "after": {"probes": None}},
            "run": [None, {"activity": None, "output": None}],
            "rollbacks": None,
        }
    )
    assert nulls.after is not None and nulls.after.probes == ()
    assert [s.name for s in nulls.steps] == ["(unnamed)", "(unnamed)"]


_ODD_VALUES: list[Any] = [None, "", "x", 0, -1.5, True, [], {}, [None], {"a": None}]


def _mutate(node: Any, rng: random.Random) -> Any:
    """Replace one random subtree of a JSON document with an odd value."""
    paths: list[tuple[Any, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key in value:
                paths.append((value, key))
                walk(value[key])
        elif isinstance(value, list):
            for index in range(len(value)):
                paths.append((value, index))
                walk(value[index])

    walk(node)
    parent, key = rng.choice(paths)
    parent[key] = copy.deepcopy(rng.choice(_ODD_VALUES))
    return node


def test_damaged_journals_never_break_the_report(journals: Journals) -> None:
    rng = random.Random(20240611)
    originals = [
        journals.load(p) for p in (journals.no_retry, journals.retry, journals.broken)
    ]
    for attempt in range(60):
        damaged = []
        for original in originals:
            document = copy.deepcopy(original)
            for _ in range(rng.randint(1, 6)):
                document = _mutate(document, rng)
            damaged.append(document)
        runs = [build_run(d, f"j{i}.json") for i, d in enumerate(damaged)]
        assert render_markdown(runs)
        if attempt % 10 == 0:  # charts take a while to draw: a sample is enough
            assert "</html>" in render_html(runs)


def test_journal_problem_names_what_is_wrong() -> None:
    assert journal_problem([1, 2]) == "expected a JSON object, found list"
    assert journal_problem({"title": "t"}) == "no 'experiment' key"
    assert "run it with `chaos run" in journal_problem({"title": "t", "method": []})
    assert journal_problem({"experiment": "x", "status": "completed"}) == (
        "'experiment' is not an object"
    )
    assert journal_problem({"experiment": {}}) == (
        "no 'status', 'run' or 'steady_states' key"
    )
    assert journal_problem({"experiment": {}, "run": []}) == ""


def test_continuous_hypothesis_checks_are_counted() -> None:
    from chaoslib.types import Schedule, Strategy

    probe = {
        "type": "probe",
        "name": "tmp-exists",
        "tolerance": True,
        "provider": {
            "type": "python",
            "module": "os.path",
            "func": "exists",
            "arguments": {"path": "."},
        },
    }
    experiment = {
        "title": "tmp stays",
        "description": "checked while the method sleeps",
        "steady-state-hypothesis": {"title": "tmp is there", "probes": [probe]},
        "method": [
            {
                "type": "action",
                "name": "nap",
                "provider": {"type": "process", "path": "sleep", "arguments": "0.6"},
            }
        ],
    }
    journal = run_experiment(
        experiment,
        strategy=Strategy.CONTINUOUS,
        schedule=Schedule(continuous_hypothesis_frequency=0.1),
    )
    run = build_run(json.loads(json.dumps(journal, default=str)))

    assert len(run.during) >= 2 and all(h.met is True for h in run.during)
    held = f"{len(run.during)} of {len(run.during)} met"
    assert f"#### Steady state during: {held}" in render_markdown([run])


def test_fault_settings_come_from_what_the_launch_reports():
    from chaoslitmus.report._litmus import _asked_settings

    parameters = {
        "app_namespace": "bookinfo",
        "app_label": "app=ratings",
        "env": {
            "NETWORK_LATENCY": "3000",
            "JITTER": "50",
            "TOTAL_CHAOS_DURATION": "12",
        },
    }
    assert _asked_settings(parameters) == (
        "+3000 ms ±50 ms for 12 s on app=ratings in bookinfo"
    )
    assert _asked_settings(None) == ""
