"""The markdown report: the same facts as the HTML, as tables and sparklines."""

from __future__ import annotations

import re

import pytest

from chaoslitmus.report.markdown import render_markdown
from chaoslitmus.report.model import build_run

from .lab_runs import Journals


@pytest.fixture(scope="module")
def text(journals: Journals) -> str:
    runs = [
        build_run(journals.load(path), path.name)
        for path in (journals.no_retry, journals.retry, journals.broken)
    ]
    return render_markdown(runs, title="Retries | no retries")


def _row(text: str, label: str) -> list[str]:
    line = next(x for x in text.splitlines() if x.startswith(f"| {label} |"))
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [cell.strip() for cell in cells][1:]


def test_at_a_glance_compares_the_runs(text: str) -> None:
    assert text.startswith("# Retries | no retries\n")
    header = next(x for x in text.splitlines() if x.startswith("|   | Run 1"))
    assert header.count("| Run ") == 3
    assert _row(text, "Status") == ["completed", "completed", "failed"]
    assert _row(text, "Deviated") == ["yes", "no", "yes"]
    assert _row(text, "Steady state after") == [
        "not met (reviews-answers-200-fast)",
        "met",
        "not met (reviews-health)",
    ]
    assert _row(text, "Litmus verdict")[:2] == ["Pass (Completed)", "Pass (Completed)"]
    assert _row(text, "Retry policy")[1] == (
        "ratings-route: none → 3 retries, 2000 ms per try, on server-error"
    )
    assert _row(text, "Error rate (failed)") == [
        "50.0 % (15)",
        "0.0 % (0)",
        "0.0 % (0)",
    ]
    assert _row(text, "Statuses") == ["200 ×15, 500 ×15", "200 ×30", "200 ×30"]
    assert _row(text, "Rollbacks") == ["2 succeeded", "3 succeeded", "none ran"]


def test_sparklines_show_the_fault_window_on_one_scale(text: str) -> None:
    block = text.split("```text\n", 1)[1].split("```", 1)[0]
    lines = block.splitlines()
    errors = [line.split("errors ", 1)[1] for line in lines if "  errors " in line]
    assert len(errors) == 3
    # Half the requests failed all along without retries; none with them.
    assert "▁" not in errors[0] and len(errors[0]) == 6
    assert set(errors[1]) == {"▁"} and set(errors[2]) == {"▁"}
    assert "one character = 0.25 s" in lines[-1]


def test_each_run_has_its_tables(text: str) -> None:
    assert "### Run 3: broken.journal.json" in text
    assert (
        "| reviews-answers-200-fast | within_slo(max_error_ratio=0, percentile=99, "
        "max_latency_ms=400) | missed | 12 requests, 50.0 % errors" in text
    )
    assert "| ratings-pods-running | true | not run |   |" in text
    assert "- verdict: Pass" in text
    assert "| ratings-route | none | 3 retries, 2000 ms per try, on server-error |" in (
        text
    )
    assert (
        "| launch-ratings-network-latency | failed | 0.0 s | — ActivityFailed: "
        "no pods match label 'app=ratingz'" in text
    )
    assert "> The run failed and no rollback ran" in text
    # Journal text cannot open HTML or break a table.
    assert "ratings latency with a \\<b>typo\\</b> in the label" in text
    assert re.search(r"(?<!\\)<b>", text) is None
