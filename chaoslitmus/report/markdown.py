"""Runs -> the same report as markdown tables, for CI logs and job summaries.

No charts: per-second sparklines of the error share and of p99 latency give
the shape of the fault window in plain text, on one scale for all runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from chaoslitmus import __version__
from chaoslitmus.report._format import fmt_ms, fmt_pct, fmt_s, fmt_time
from chaoslitmus.report.model import Fault, Hypothesis, MeshChange, Run
from chaoslitmus.report.series import (
    bin_width,
    error_share_per_bin,
    latency_per_bin,
    sparkline,
    timeline,
)
from chaoslitmus.report.summary import (
    comparison,
    hypothesis_text,
    outcomes_text,
)

__all__ = ["render_markdown"]

_MAX_CHARS = 60  # sparkline width before seconds are merged into wider bins


def _cell(text: object) -> str:
    """Table-safe text: one line, pipes escaped, no raw HTML."""
    value = " ".join(str(text).split())
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("<", "\\<") or " "


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = [
        "| " + " | ".join(_cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _text(text: str) -> str:
    """Journal prose outside tables: one paragraph, no raw HTML."""
    return " ".join(text.split()).replace("<", "\\<")


def _label(index: int, run: Run) -> str:
    return f"Run {index}: {run.file or run.title}"


def _sparklines(runs: Sequence[Run]) -> str:
    """Error share and p99 per second of each run's fault window, shared scale."""
    placed = [timeline(r.fault_traffic) for r in runs]
    length = max((s.end_s for _, spans in placed for s in spans), default=0.0)
    if not any(points for points, _ in placed):
        return "No traffic was recorded in the method of any run."
    width = bin_width(length, max(len(p) for p, _ in placed), _MAX_CHARS)
    errors = [error_share_per_bin(p, width, length) for p, _ in placed]
    p99 = [latency_per_bin(p, 99, width, length) for p, _ in placed]
    top = max((v for series in p99 for v in series if v is not None), default=0.0)
    names = [_label(i, r) for i, r in enumerate(runs, start=1)]
    pad = max(len(n) for n in names)
    lines = []
    for name, err, lat in zip(names, errors, p99, strict=True):
        lines.append(f"{name:<{pad}}  errors {sparkline(err, 1.0)}")
        lines.append(f"{'':<{pad}}  p99    {sparkline(lat, top)}")
    lines.append(
        f"{'':<{pad}}  one character = {width:g} s; errors 0-100 %, p99 0-{fmt_ms(top)}"
    )
    return "```text\n" + "\n".join(lines) + "\n```"


def _hypothesis(title: str, hypothesis: Hypothesis | None) -> str:
    head = f"#### Steady state {title}: {hypothesis_text(hypothesis).text}"
    if hypothesis is None or not hypothesis.probes:
        return head
    rows = []
    for probe in hypothesis.probes:
        result = (
            probe.status if probe.met is None else "held" if probe.met else "missed"
        )
        figures = probe.figures + (f" — {probe.error}" if probe.error else "")
        rows.append([probe.name, probe.tolerance, result, figures])
    return head + "\n\n" + _table(["probe", "tolerance", "result", "figures"], rows)


def _fault(fault: Fault) -> str:
    pairs = [
        ("engine", fault.engine),
        ("namespace", fault.namespace),
        ("asked for", fault.settings),
        ("pods faulted", ", ".join(fault.faulted_pods)),
        ("pods matching label", ", ".join(fault.target_pods)),
        ("injected", fmt_time(fault.injected_at) if fault.injected_at else ""),
        ("reverted", fmt_time(fault.reverted_at) if fault.reverted_at else ""),
        ("phase", fault.phase),
        ("verdict", fault.verdict),
        ("probe success", fault.probe_success_percentage),
        ("failure step", fault.failure_step),
        ("launched", fmt_time(fault.started_at) if fault.started_at else ""),
        ("verdict seen", fmt_time(fault.ended_at) if fault.ended_at else ""),
        ("launch → verdict", fmt_s(fault.duration_s) if fault.duration_s else ""),
        ("error", fault.error),
    ]
    title = fault.experiment or "Litmus run"
    return f"#### Fault: {_text(title)}\n\n" + "\n".join(
        f"- {k}: {_text(v)}" for k, v in pairs if v
    )


def _mesh(change: MeshChange) -> str:
    head = (
        f"#### Mesh: {change.action} ({change.phase}: {_text(change.activity)}), "
        f"{change.status}"
    )
    lines = [head, ""]
    if change.target:
        lines.append(
            f"- object: {_text(change.target)} ({change.mesh} {change.api_version})"
        )
    if change.message:
        lines.append(f"- result: {_text(change.message)}")
    if change.error:
        lines.append(f"- error: {_text(change.error)}")
    text = "\n".join(lines).rstrip()
    if change.note:
        text += f"\n- note: {_text(change.note)}"
    if change.routes and not any(
        r.changed or r.before != r.after for r in change.routes
    ):
        rows = [[r.route, r.after] for r in change.routes]
        text += "\n\n" + _table(["route", "policy"], rows)
    elif change.routes:
        rows = [[r.route, r.before, r.after] for r in change.routes]
        text += "\n\n" + _table(["route", "before", "after"], rows)
    return text


def _run(index: int, run: Run) -> str:
    parts = [f"### {_text(_label(index, run))}"]
    if run.description:
        parts.append(_text(run.description))
    parts += [f"> {_text(note)}" for note in run.notes]
    parts.append(_hypothesis("before", run.before))
    if run.during:
        held = sum(1 for h in run.during if h.met is True)
        parts.append(f"#### Steady state during: {held} of {len(run.during)} met")
    parts.append(_hypothesis("after", run.after))
    parts += [_fault(f) for f in run.faults]
    parts += [_mesh(m) for m in run.mesh]
    if run.traffic:
        rows = [
            [
                w.activity,
                w.where,
                w.total,
                fmt_pct(w.error_rate),
                fmt_ms(w.latency_ms.get("p50")),
                fmt_ms(w.latency_ms.get("p99")),
                fmt_ms(w.latency_ms.get("max")),
                outcomes_text({**w.statuses, **w.errors}),
            ]
            for w in run.traffic
        ]
        parts.append(
            "#### Traffic windows\n\n"
            + _table(
                [
                    "window",
                    "where",
                    "requests",
                    "errors",
                    "p50",
                    "p99",
                    "max",
                    "outcomes",
                ],
                rows,
            )
        )
    steps = list(run.steps) + list(run.rollbacks)
    if steps:
        rows = [
            [
                s.phase,
                s.name + (" (background)" if s.background else ""),
                s.status,
                fmt_s(s.duration_s),
                s.summary + (f" — {s.error}" if s.error else ""),
            ]
            for s in steps
        ]
        parts.append(
            "#### Method and rollbacks\n\n"
            + _table(["phase", "activity", "status", "took", "result"], rows)
        )
    return "\n\n".join(parts)


def render_markdown(runs: Sequence[Run], title: str | None = None) -> str:
    """The whole report as markdown, runs in the order given."""
    heading = title or (
        runs[0].title if len(runs) == 1 else "Chaos experiments compared"
    )
    labels = [_label(i, r) for i, r in enumerate(runs, start=1)]
    glance = _table(
        [""] + labels,
        [[row.label] + [c.text for c in row.cells] for row in comparison(runs)],
    )
    parts = [
        f"# {_text(heading)}",
        f"{len(runs)} run{'s' if len(runs) != 1 else ''}: "
        + _text(" · ".join(r.file or r.title for r in runs)),
        "## At a glance",
        glance,
        "## Traffic under the fault",
        _sparklines(runs),
        "## Runs",
        *[_run(i, r) for i, r in enumerate(runs, start=1)],
        f"---\nMade by chaostoolkit-litmus {__version__} from Chaos Toolkit "
        "journals; times are UTC.",
    ]
    return "\n\n".join(parts) + "\n"
