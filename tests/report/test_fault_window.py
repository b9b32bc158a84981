"""Only traffic after the fault's injection counts as under the fault; the
report shows the traffic before it, the SLO limit and the fault's marks."""

from __future__ import annotations

import pytest

from chaoslitmus.report import charts
from chaoslitmus.report.gate import Margins, regressions
from chaoslitmus.report.html import render_html
from chaoslitmus.report.injection import (
    BEFORE_INJECTION,
    UNDER_FAULT,
    sample_figures,
    split_at_injection,
)
from chaoslitmus.report.markdown import render_markdown
from chaoslitmus.report.model import build_run
from chaoslitmus.report.series import offset_on_timeline
from chaoslitmus.report.summary import comparison
from chaoslitmus.report.types import Sample, Traffic

from .lab_runs import Journals
from .test_evidence_rows import journal as evidence_journal

START = "2026-01-01T00:00:10.000Z"
INJECTED = "2026-01-01T00:00:11.000Z"
REVERTED = "2026-01-01T00:00:14.000Z"

# Two seconds at 4 requests/s: fast 200s before injection, then one 500 in
# two and slow answers once the fault is on.
SAMPLES = [[0.0, 200, 5], [0.25, 200, 6], [0.5, 200, 4], [0.75, 200, 7]] + [
    [1.0 + i * 0.25, 500 if i % 2 else 200, 2500 if i % 2 else 8] for i in range(4)
]


def window(samples=SAMPLES, started_at=START) -> Traffic:
    return Traffic(
        activity="traffic",
        phase="method",
        background=True,
        url="http://x/",
        method="GET",
        started_at=started_at,
        duration_s=2.0,
        total=len(samples),
        failed=2,
        error_rate=0.25,
        statuses={"200": 6, "500": 2},
        errors={},
        latency_ms={"p99": 2500},
        achieved_rate_per_s=4.0,
        ok_statuses=None,
        samples=tuple(Sample(o, str(s), lat) for o, s, lat in samples),
    )


def test_a_window_is_cut_at_injection_and_figures_come_from_each_side():
    before, under = split_at_injection(window(), INJECTED)

    assert (before.segment, under.segment) == (BEFORE_INJECTION, UNDER_FAULT)
    assert (before.total, before.failed, before.error_rate) == (4, 0, 0.0)
    assert before.latency_ms["p99"] == 7 and before.duration_s == 1.0
    assert (under.total, under.failed, under.error_rate) == (4, 2, 0.5)
    assert under.latency_ms["p99"] == 2500 and under.statuses == {"200": 2, "500": 2}
    # The part under the fault starts at injection; its offsets follow.
    assert under.started_at.startswith("2026-01-01T00:00:11")
    assert [s.offset_s for s in under.samples] == [0.0, 0.25, 0.5, 0.75]
    assert under.duration_s == 1.0


def test_windows_on_one_side_of_injection_stay_whole():
    (late,) = split_at_injection(window(started_at=INJECTED), INJECTED)
    assert late.segment == UNDER_FAULT and late.total == 8
    (early,) = split_at_injection(window(), "2026-01-01T00:01:00Z")
    assert early.segment == BEFORE_INJECTION and early.total == 8
    # Nothing says when the fault began: the window is left as it is.
    (unknown,) = split_at_injection(window(), "")
    assert unknown.segment == "" and unknown == window()


def test_errors_without_a_status_count_as_failed():
    samples = [
        Sample(0, "200", 3),
        Sample(0.1, "timeout", 5000),
        Sample(0.2, "body", 4),
    ]
    figures = sample_figures(samples)
    assert (figures["total"], figures["failed"]) == (3, 2)
    assert figures["statuses"] == {"200": 1}
    assert figures["errors"] == {"timeout": 1, "body": 1}
    assert figures["latency_ms"]["max"] == 5000
    assert sample_figures(samples, ok_statuses=(500,))["failed"] == 3


def test_marks_sit_on_the_timeline_of_the_windows():
    assert offset_on_timeline([window()], INJECTED) == 1.0
    assert offset_on_timeline([window()], "") is None
    assert offset_on_timeline([window(started_at="")], INJECTED) is None


def _record(name: str, func: str, output: dict, **activity) -> dict:
    return {
        "activity": {
            "type": activity.pop("type", "action"),
            "name": name,
            "provider": {
                "type": "python",
                "module": "chaoslitmus.litmus.actions",
                "func": func,
            },
            **activity,
        },
        "status": "succeeded",
        "output": output,
    }


def _traffic_output(samples, started_at) -> dict:
    return {
        "total": len(samples),
        "statuses": {},
        "samples": samples,
        "started_at": started_at,
        "duration_s": 2.0,
    }


def journal() -> dict:
    fault = {"engine_name": "e", "namespace": "ns", "phase": "Running"}
    return {
        "experiment": {
            "title": "t",
            "configuration": {"limit": 2500},
            "steady-state-hypothesis": {
                "probes": [
                    {
                        "type": "probe",
                        "name": "fast",
                        "tolerance": {
                            "type": "probe",
                            "provider": {
                                "type": "python",
                                "module": "chaoslitmus.http.tolerances",
                                "func": "within_slo",
                                "arguments": {"max_latency_ms": "${limit}"},
                            },
                        },
                    }
                ]
            },
        },
        "status": "completed",
        "deviated": True,
        "steady_states": {
            "before": {
                "steady_state_met": True,
                "probes": [
                    _record(
                        "fast",
                        "measure_endpoint",
                        _traffic_output(
                            [[0.0, 200, 3], [0.5, 200, 4]], "2026-01-01T00:00:01Z"
                        ),
                        type="probe",
                    )
                ],
            },
            "after": None,
            "during": [],
        },
        "run": [
            _record(
                "wait",
                "wait_for_chaos_started",
                {**fault, "injected_at": INJECTED, "targets": ["p1"]},
            ),
            _record(
                "traffic",
                "measure_endpoint",
                _traffic_output(SAMPLES, START),
                type="probe",
                background=True,
            ),
        ],
        "rollbacks": [
            # The rollback's wait first sees the injection when it starts
            # (at its first look): that says nothing of when it happened.
            _record(
                "verdict",
                "wait_for_result",
                {
                    **fault,
                    "verdict": "Pass",
                    "running_at": "2026-01-01T00:00:12Z",
                    "injected_at": "2026-01-01T00:00:12Z",
                    "reverted_at": REVERTED,
                },
            )
        ],
    }


def test_the_model_counts_only_requests_after_injection():
    run = build_run(journal(), "j")

    (fault,) = run.faults
    assert (fault.injected_at, fault.reverted_at) == (INJECTED, REVERTED)
    assert run.slo_latency_ms == 2500
    assert [(t.phase, t.segment, t.total) for t in run.traffic] == [
        ("before", "", 2),
        ("method", BEFORE_INJECTION, 4),
        ("method", UNDER_FAULT, 4),
    ]
    (under,) = run.fault_traffic
    assert (under.segment, under.error_rate) == (UNDER_FAULT, 0.5)
    assert len(run.timeline_traffic) == 3
    cells = {row.label: row.cells[0].text for row in comparison([run])}
    assert cells["Requests under the fault"] == "4"
    assert cells["Error rate (failed)"] == "50.0 % (2)"
    assert cells["Traffic before the fault"].startswith("2 requests, 0.0 % errors")
    assert cells["Fault window before injection"] == (
        "4 requests, 0.0 % errors, p99 7.0 ms (not counted as under the fault)"
    )


def test_html_and_markdown_show_traffic_before_injection_apart():
    run = build_run(journal(), "j")
    page = render_html([run])
    text = render_markdown([run])
    for shown in (page, text):
        assert "method (background), before injection" in shown
        assert "method (background), under the fault" in shown
        assert "Traffic before the fault" in shown
    if charts.available():
        assert "SLO limit 2500 ms" in page
        assert "fault injected" in page and "fault reverted" in page


@pytest.mark.skipif(not charts.available(), reason="needs matplotlib")
def test_the_latency_chart_draws_the_limit_and_the_fault_marks():
    marks = (charts.Mark(1.0, "fault injected"), charts.Mark(3.5, "fault reverted"))
    panel = charts.Panel("run", "sub", (window(),), marks, 2000.0)
    svg = charts.latency_scatter_svg([panel])
    assert "SLO limit 2000 ms" in svg
    assert svg.count("fault injected") == 1 and "fault reverted" in svg
    bars = charts.status_bars_svg([panel])
    assert "fault injected" in bars and "SLO limit" not in bars
    plain = charts.latency_scatter_svg([charts.Panel("run", "sub", (window(),))])
    assert "SLO limit" not in plain and "fault injected" not in plain


def test_lab_journals_mark_the_fault_and_the_limit(journals: Journals):
    for path in (journals.no_retry, journals.retry):
        run = build_run(journals.load(path), path.name)
        (fault,) = run.faults
        assert fault.injected_at and fault.reverted_at
        assert run.slo_latency_ms == 400  # the small scale's hypothesis limit
        assert run.before_traffic and run.fault_traffic
        # The traffic starts after the lab has injected: all under the fault.
        assert {t.segment for t in run.fault_traffic} == {UNDER_FAULT}
        assert all(t.started_at >= fault.injected_at for t in run.fault_traffic)
        if charts.available():
            page = render_html([run])
            assert "fault injected" in page and "SLO limit 400 ms" in page


def test_dry_runs_are_labelled_in_html_and_markdown():
    doc = journal()
    doc["experiment"]["dry"] = "actions"
    run = build_run(doc, "j")
    status = {row.label: row.cells[0] for row in comparison([run])}["Status"]
    assert (status.text, status.tone) == (
        "completed (dry run: actions not executed)",
        "warn",
    )
    for shown in (render_html([run]), render_markdown([run])):
        assert "completed (dry run: actions not executed)" in shown
        assert "Dry run (actions): activities of that kind were not executed" in shown


def test_retry_evidence_shows_in_html_and_markdown():
    """Propagation, Envoy's retries (attempts per request, rescued) and the
    budget sentence, in both formats (the rows: test_evidence_rows)."""
    run = build_run(evidence_journal(), "retry.json")
    for shown in (render_html([run]), render_markdown([run])):
        assert "Policy propagation" in shown and "3.0 s" in shown
        assert "9 retries, 8 rescued, 1.36 attempts/request" in shown
        assert "only the first retry can help" in shown


def test_the_baseline_gate_compares_the_part_under_the_fault():
    """A run cut at injection is judged on its requests under the fault: the
    healthy requests before injection neither dilute nor pair up wrongly."""
    run = build_run(journal(), "j")
    baseline = journal()
    # Only the rollback's first look saw the injection: its window stays whole.
    del baseline["run"][0]
    base = build_run(baseline, "base")
    assert [t.segment for t in base.traffic] == ["", ""]
    lines = regressions(run, base, Margins(percentiles=()))
    # Judged on its 50 % under the fault, not the whole window's 25 %, and
    # paired with the baseline's window of the same name (no "#2").
    assert lines == [
        "traffic (method): error rate 50.0 % vs baseline 0.0 % "
        "(+50.0 points, allowed +1)"
    ]


def test_the_earliest_real_observation_of_injection_counts():
    doc = journal()
    late = dict(doc["rollbacks"][0]["output"])
    # A later wait that saw the mark appear (not at its first look).
    late.update(running_at="2026-01-01T00:00:10.5Z", injected_at="2026-01-01T00:00:13Z")
    doc["rollbacks"][0]["output"] = late
    (fault,) = build_run(doc).faults
    assert (fault.injected_at, fault.reverted_at) == (INJECTED, REVERTED)
