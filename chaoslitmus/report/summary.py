"""The comparison both renderers print: rows of text cells, one cell per run.

HTML and markdown show the same facts in the same words because both take
them from here; only the markup differs.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from chaoslitmus.report._format import fmt_ms, fmt_pct, fmt_s, fmt_time
from chaoslitmus.report.model import Hypothesis, Run, Traffic
from chaoslitmus.report.series import outcome_order

__all__ = [
    "Cell",
    "Row",
    "Totals",
    "comparison",
    "hypothesis_text",
    "outcomes_text",
    "totals",
]


@dataclass(frozen=True)
class Cell:
    """A value and how it reads: good, bad, warn or neutral ('')."""

    text: str
    tone: str = ""


@dataclass(frozen=True)
class Row:
    label: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Totals:
    """Traffic figures over one or more windows."""

    total: int
    failed: int
    error_rate: float
    outcomes: dict[str, int]
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def _nearest_rank(sorted_values: Sequence[float], p: float) -> float:
    rank = max(1, math.ceil(round(p / 100 * len(sorted_values), 9)))
    return sorted_values[rank - 1]


def totals(windows: Sequence[Traffic]) -> Totals | None:
    """Figures over several windows (one window: its own reported figures)."""
    if not windows:
        return None
    outcomes: Counter[str] = Counter()
    for window in windows:
        outcomes.update(window.statuses)
        outcomes.update(window.errors)
    total = sum(w.total for w in windows)
    failed = sum(w.failed for w in windows)
    if len(windows) == 1:
        latency = windows[0].latency_ms
        p50, p99, top = latency.get("p50"), latency.get("p99"), latency.get("max")
    else:
        values = sorted(s.latency_ms for w in windows for s in w.samples)
        p50 = _nearest_rank(values, 50) if values else None
        p99 = _nearest_rank(values, 99) if values else None
        top = values[-1] if values else None
    return Totals(
        total=total,
        failed=failed,
        error_rate=failed / total if total else 0.0,
        outcomes={k: outcomes[k] for k in outcome_order(outcomes)},
        p50_ms=p50,
        p99_ms=p99,
        max_ms=top,
    )


def outcomes_text(outcomes: dict[str, int]) -> str:
    """'200 ×40, 500 ×10, timeout ×2' in chart order."""
    return ", ".join(f"{k} ×{outcomes[k]}" for k in outcome_order(outcomes)) or "–"


def hypothesis_text(hypothesis: Hypothesis | None) -> Cell:
    if hypothesis is None:
        return Cell("not run", "warn")
    if hypothesis.met is True:
        return Cell("met", "good")
    if hypothesis.met is False:
        missed = [p.name for p in hypothesis.probes if p.met is False]
        failed = [p.name for p in hypothesis.probes if p.status == "failed"]
        which = missed or failed
        return Cell("not met" + (f" ({', '.join(which)})" if which else ""), "bad")
    return Cell("unknown", "warn")


def _status(run: Run) -> Cell:
    tone = {
        "completed": "good",
        "failed": "bad",
        "interrupted": "bad",
        "aborted": "bad",
    }
    if run.dry:
        return Cell(f"{run.status} (dry run: {run.dry} not executed)", "warn")
    return Cell(run.status, tone.get(run.status, "warn"))


def _deviated(run: Run) -> Cell:
    if run.deviated is None:
        return Cell("unknown", "warn")
    return Cell("yes", "bad") if run.deviated else Cell("no", "good")


def _fault(run: Run) -> Cell:
    if not run.faults:
        return Cell("none recorded")
    parts = []
    for fault in run.faults:
        what = fault.experiment or "Litmus experiment"
        if fault.engine:
            what += f" (engine {fault.engine})"
        if fault.settings:
            what += f": {fault.settings}"
        parts.append(what)
    return Cell("; ".join(parts))


def injection(run: Run) -> Cell:
    """Was this run's fault really on? Red when it was not."""
    evidence = run.evidence
    if evidence is None:
        return Cell("no evidence recorded", "warn")
    if not evidence.injected:
        return Cell(evidence.reason or "fault NOT injected", "bad")
    text = "injected on " + (", ".join(evidence.targets) or "its targets")
    if evidence.inject_lag_s is not None:
        text += f" ({evidence.inject_lag_s:.1f} s after Running)"
    return Cell(text, "good")


def fault_marks(run: Run) -> list[tuple[str, str]]:
    """(label, time) of the fault's injection and reversion, as the journal
    recorded them (wait_for_chaos_started / wait_for_chaos_reverted /
    run_experiment / wait_for_result outputs)."""
    marks = []
    for fault in run.faults:
        if fault.injected_at:
            marks.append(("fault injected", fault.injected_at))
        if fault.reverted_at:
            marks.append(("fault reverted", fault.reverted_at))
    return marks


def _before_fault(run: Run) -> Cell:
    """The steady-state traffic before the method: the healthy baseline."""
    figures = totals(run.before_traffic)
    if figures is None:
        return Cell("no traffic recorded")
    return Cell(_figures_text(figures), "good" if figures.failed == 0 else "bad")


def _before_injection(run: Run) -> Cell:
    """Requests of the fault window due before injection (not counted)."""
    early = [t for t in run.traffic if t.segment == "before injection"]
    figures = totals(early)
    if figures is None:
        return Cell("none" if any(t.segment for t in run.traffic) else "–")
    return Cell(_figures_text(figures) + " (not counted as under the fault)", "warn")


def _figures_text(figures: Totals) -> str:
    text = f"{figures.total} requests, {fmt_pct(figures.error_rate)} errors"
    if figures.p99_ms is not None:
        text += f", p99 {fmt_ms(figures.p99_ms)}"
    return text


def _propagation(run: Run) -> Cell:
    figures = run.retry_evidence
    if figures is None or figures.propagation_s is None:
        return Cell("–")
    return Cell(f"{figures.propagation_s:.1f} s")


def _retries(run: Run) -> Cell:
    figures = run.retry_evidence
    if figures is None or figures.retries is None:
        return Cell("–")
    per = (
        f"{figures.attempts_per_request:.2f} attempts/request"
        if figures.attempts_per_request is not None
        else "no requests"
    )
    return Cell(f"{figures.retries} retries, {figures.rescued} rescued, {per}")


def _budget(run: Run) -> Cell:
    figures = run.retry_evidence
    if figures is None or not figures.budget:
        return Cell("–")
    return Cell(figures.budget)


def _verdict(run: Run) -> Cell:
    if not run.faults:
        return Cell("–")
    texts, tones = [], []
    for fault in run.faults:
        if fault.error and not fault.verdict:
            texts.append(f"error: {fault.error}")
            tones.append("bad")
            continue
        verdict = fault.verdict or "unknown"
        text = verdict + (f" ({fault.phase})" if fault.phase else "")
        if fault.failure_step:
            text += f", failed at {fault.failure_step}"
        texts.append(text)
        tones.append(
            {"Pass": "good", "Fail": "bad", "Error": "bad"}.get(verdict, "warn")
        )
    tone = "bad" if "bad" in tones else "warn" if "warn" in tones else "good"
    return Cell("; ".join(texts), tone)


def _policy(run: Run) -> Cell:
    changes = [m for m in run.policy_changes if m.phase == "method"]
    if not changes:
        reads = [m for m in run.mesh if m.phase == "method" and m.routes]
        if reads:
            routes = reads[0].routes
            default = " (the mesh's default retries apply)" if reads[0].note else ""
            return Cell(
                "unchanged: "
                + "; ".join(f"{r.route}: {r.after}" for r in routes)
                + default
            )
        return Cell("unchanged (no mesh activity)")
    parts, tone = [], ""
    for change in changes:
        if change.error:
            parts.append(f"{change.action} failed: {change.error}")
            tone = "bad"
            continue
        for route in change.routes:
            arrow = "→" if route.changed else "= (already)"
            parts.append(f"{route.route}: {route.before} {arrow} {route.after}")
    return Cell("; ".join(parts) or "no route matched", tone)


def _restored(run: Run) -> Cell:
    restores = [m for m in run.mesh if m.action == "restore_retry_policy"]
    if not restores:
        return Cell("–")
    texts, tone = [], "good"
    for restore in restores:
        if restore.error or restore.status == "failed":
            texts.append(f"failed: {restore.error or 'see journal'}")
            tone = "bad"
        else:
            texts.append(restore.message or restore.status)
    return Cell("; ".join(texts), tone)


def _rollbacks(run: Run) -> Cell:
    if not run.rollbacks:
        return Cell("none ran", "warn" if run.status != "completed" else "")
    failed = [s.name for s in run.rollbacks if s.status == "failed"]
    if failed:
        return Cell(
            f"{len(failed)} of {len(run.rollbacks)} failed: {', '.join(failed)}", "bad"
        )
    return Cell(f"{len(run.rollbacks)} succeeded", "good")


def _traffic_cells(run: Run) -> list[Cell]:
    figures = totals(run.fault_traffic)
    if figures is None:
        return [Cell("no traffic recorded", "warn")] + [Cell("–")] * 4
    rate_tone = "good" if figures.failed == 0 else "bad"
    return [
        Cell(str(figures.total)),
        Cell(f"{fmt_pct(figures.error_rate)} ({figures.failed})", rate_tone),
        Cell(fmt_ms(figures.p50_ms)),
        Cell(fmt_ms(figures.p99_ms)),
        Cell(outcomes_text(figures.outcomes)),
    ]


def comparison(runs: Sequence[Run]) -> list[Row]:
    """The at-a-glance table: one row per fact, one cell per run."""

    def row(label: str, cells: Sequence[Cell]) -> Row:
        return Row(label, tuple(cells))

    traffic = [_traffic_cells(r) for r in runs]
    return [
        row("Experiment", [Cell(r.title) for r in runs]),
        row("Journal", [Cell(r.file or "–") for r in runs]),
        row("Status", [_status(r) for r in runs]),
        row("Deviated", [_deviated(r) for r in runs]),
        row("Steady state before", [hypothesis_text(r.before) for r in runs]),
        row("Steady state after", [hypothesis_text(r.after) for r in runs]),
        row("Fault", [_fault(r) for r in runs]),
        row("Fault injected", [injection(r) for r in runs]),
        row("Litmus verdict", [_verdict(r) for r in runs]),
        row("Retry policy", [_policy(r) for r in runs]),
        row("Policy restored", [_restored(r) for r in runs]),
        row("Policy propagation", [_propagation(r) for r in runs]),
        row("Retries (Envoy)", [_retries(r) for r in runs]),
        row("Retry budget", [_budget(r) for r in runs]),
        row("Traffic before the fault", [_before_fault(r) for r in runs]),
        row("Fault window before injection", [_before_injection(r) for r in runs]),
        row("Requests under the fault", [t[0] for t in traffic]),
        row("Error rate (failed)", [t[1] for t in traffic]),
        row("Latency p50", [t[2] for t in traffic]),
        row("Latency p99", [t[3] for t in traffic]),
        row("Statuses", [t[4] for t in traffic]),
        row("Rollbacks", [_rollbacks(r) for r in runs]),
        row("Started", [Cell(fmt_time(r.start)) for r in runs]),
        row("Duration", [Cell(fmt_s(r.duration_s)) for r in runs]),
    ]
