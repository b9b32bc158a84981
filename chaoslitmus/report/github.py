"""Runs -> a GitHub Actions job summary (markdown for $GITHUB_STEP_SUMMARY).

Short on purpose: one row per run with its verdict, then one line per reason
a run failed and per regression against a baseline. The full report (HTML
with charts, or `--format markdown`) is the artifact for the details.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from chaoslitmus.report._format import fmt_ms, fmt_pct
from chaoslitmus.report.gate import Judgement
from chaoslitmus.report.types import Hypothesis, Run

__all__ = ["render_github"]


def _cell(text: object) -> str:
    value = " ".join(str(text).split())
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("<", "\\<") or " "


def _check(check: Hypothesis | None, inverted: bool = False) -> str:
    if check is None or check.met is None:
        return "not checked"
    if inverted:
        return (
            "broke (as expected)" if not check.met else "**held (expected to break)**"
        )
    return "met" if check.met else "**not met**"


def _fault(run: Run) -> str:
    if not run.faults:
        return "–"
    fault = run.faults[0]
    return f"{fault.experiment or 'fault'}: {fault.verdict or fault.phase or '?'}"


def _traffic(run: Run) -> str:
    windows = run.fault_traffic
    if not windows:
        return "–"
    window = windows[0]
    text = f"{fmt_pct(window.error_rate)} errors"
    if "p99" in window.latency_ms:
        text += f", p99 {fmt_ms(window.latency_ms['p99'])}"
    return text


def _rollbacks(run: Run) -> str:
    if not run.rollbacks:
        return "none"
    ok = sum(1 for s in run.rollbacks if s.status == "succeeded")
    text = f"{ok}/{len(run.rollbacks)} ok"
    return text if ok == len(run.rollbacks) else f"**{text}**"


def render_github(judgements: Sequence[Judgement], title: str | None = None) -> str:
    """The job summary: a verdict table, then why anything failed."""
    failed = [j for j in judgements if not j.passed]
    heading = title or "Chaos experiments"
    verdict = (
        f"{len(failed)} of {len(judgements)} failed"
        if failed
        else f"all {len(judgements)} passed"
    )
    lines = [f"## {heading}: {verdict}", ""]
    lines.append(
        "| | Experiment | Journal | Status | Before | After | Fault | During the "
        "fault | Rollbacks |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for judgement in judgements:
        run = judgement.run
        status = run.status + (", deviated" if run.deviated else "")
        if judgement.expect_deviation:
            status += " (deviation expected)"
        cells = [
            "✅" if judgement.passed else "❌",
            run.title,
            f"`{Path(run.file).name}`" if run.file else "–",
            status,
            _check(run.before),
            _check(run.after, inverted=judgement.expect_deviation),
            _fault(run),
            _traffic(run),
            _rollbacks(run),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    problems = [
        (judgement, line)
        for judgement in judgements
        for line in (*judgement.failures, *judgement.regressions)
    ]
    if problems:
        lines += ["", "### Why", ""]
        for judgement, line in problems:
            name = Path(judgement.run.file).name or judgement.run.title
            lines.append(f"- **{_cell(name)}**: {_cell(line)}")
    notes = [(j, note) for j in judgements for note in j.run.notes]
    if notes:
        lines += ["", "<details><summary>Notes</summary>", ""]
        for judgement, note in notes:
            name = Path(judgement.run.file).name or judgement.run.title
            lines.append(f"- {_cell(name)}: {_cell(note)}")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
