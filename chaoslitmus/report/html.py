"""Runs -> one self-contained HTML page that compares them side by side.

Everything is inline (CSS, SVG charts); nothing is fetched, so the file can
be attached to a ticket or opened offline. Every piece of journal text is
escaped: a journal is data, whoever wrote the experiment.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from chaoslitmus import __version__
from chaoslitmus.report import charts
from chaoslitmus.report._format import fmt_ms, fmt_pct, fmt_s, fmt_time
from chaoslitmus.report.model import (
    Fault,
    Hypothesis,
    MeshChange,
    Run,
    Step,
    Traffic,
)
from chaoslitmus.report.series import offset_on_timeline
from chaoslitmus.report.summary import (
    Cell,
    comparison,
    fault_marks,
    hypothesis_text,
    outcomes_text,
)

__all__ = ["render_html", "run_label"]

_CSS = """
:root { --good:#e8f5e9; --good-ink:#1b5e20; --bad:#ffebee; --bad-ink:#b71c1c;
  --warn:#fff8e1; --warn-ink:#8d6e00; --line:#dfe3e8; --muted:#5f6b76; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color:#1f2933; margin:0; background:#f7f8fa; }
main { max-width: 1400px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 10px; border-bottom: 2px solid var(--line);
  padding-bottom: 4px; }
h3 { font-size: 15px; margin: 0 0 8px; }
h4 { font-size: 13px; margin: 14px 0 6px; color: var(--muted);
  text-transform: uppercase; letter-spacing: .04em; }
p.lead { color: var(--muted); margin: 0 0 16px; }
.runs { display: grid; gap: 16px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 14px 16px; min-width: 0; overflow-wrap: break-word; }
.block { margin: 0 0 18px; }
ul.probes, ul.routes { list-style: none; padding: 0; margin: 0; }
ul.probes li { padding: 6px 0; border-bottom: 1px solid var(--line); }
ul.probes li:last-child { border-bottom: 0; }
ul.routes li { padding: 3px 0; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px;
  border-bottom: 1px solid var(--line); }
td code { overflow-wrap: anywhere; }
th { font-weight: 600; color: #334e68; }
table.glance { border: 1px solid var(--line); border-radius: 8px; }
table.glance th[scope=row] { width: 190px; color: var(--muted); font-weight: 500; }
table.glance thead th { background: #f0f4f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.good { background: var(--good); color: var(--good-ink); }
.bad { background: var(--bad); color: var(--bad-ink); }
.warn { background: var(--warn); color: var(--warn-ink); }
span.badge { display: inline-block; padding: 1px 8px; border-radius: 10px;
  font-weight: 600; font-size: 12px; text-transform: none; letter-spacing: 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 12px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; }
.muted { color: var(--muted); }
.note { border-left: 4px solid #f9a825; background: var(--warn); padding: 8px 12px;
  margin: 8px 0; border-radius: 4px; }
.chart { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 8px; margin: 10px 0; }
.chart svg { max-width: 100%; height: auto; display: block; margin: 0 auto; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.error { color: var(--bad-ink); font: 12px ui-monospace, SFMono-Regular, monospace; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print { body { background: #fff; } .card, .chart { break-inside: avoid; } }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def run_label(index: int, run: Run) -> str:
    """How runs are named in headers and charts: number and journal file."""
    return f"Run {index}: {run.file or run.title}"


def _badge(cell: Cell) -> str:
    tone = f" {cell.tone}" if cell.tone else ""
    return f'<span class="badge{tone}">{_e(cell.text)}</span>'


def _cell(cell: Cell) -> str:
    cls = f' class="{cell.tone}"' if cell.tone else ""
    return f"<td{cls}>{_e(cell.text)}</td>"


def _grid(cards: Sequence[str]) -> str:
    columns = max(1, min(len(cards), 3))
    style = f"grid-template-columns: repeat({columns}, minmax(0, 1fr))"
    return f'<div class="runs" style="{style}">' + "".join(cards) + "</div>"


def _card(title: str, body: str) -> str:
    return f'<section class="card"><h3>{_e(title)}</h3>{body}</section>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table whose cells are already HTML."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(text: object, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<td{attr}>{_e(text)}</td>"


def _dl(pairs: Sequence[tuple[str, str]]) -> str:
    items = "".join(
        f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in pairs if v not in ("", None)
    )
    return f"<dl>{items}</dl>" if items else ""


# --- sections -------------------------------------------------------------------


def _glance(runs: Sequence[Run]) -> str:
    head = "".join(
        f'<th scope="col">{_e(run_label(i, r))}</th>' for i, r in _numbered(runs)
    )
    rows = "".join(
        f'<tr><th scope="row">{_e(row.label)}</th>'
        + "".join(_cell(c) for c in row.cells)
        + "</tr>"
        for row in comparison(runs)
    )
    return (
        '<table class="glance"><thead><tr><th></th>'
        + head
        + "</tr></thead><tbody>"
        + rows
        + "</tbody></table>"
    )


def _numbered(runs: Sequence[Run]) -> list[tuple[int, Run]]:
    return list(enumerate(runs, start=1))


def _run_card(index: int, run: Run) -> str:
    tags = ", ".join(run.tags)
    body = (
        f"<p>{_e(run.description) or '<span class=muted>no description</span>'}</p>"
        + _dl(
            [
                ("experiment", run.title),
                ("journal", run.file),
                ("tags", tags),
                ("started", fmt_time(run.start)),
                ("ended", fmt_time(run.end)),
                ("duration", fmt_s(run.duration_s)),
            ]
        )
        + "".join(f'<div class="note">{_e(n)}</div>' for n in run.notes)
    )
    return _card(run_label(index, run), body)


def _probe_result(met: bool | None, status: str) -> Cell:
    if met is True:
        return Cell("held", "good")
    if met is False:
        return Cell("missed", "bad")
    return Cell(status, "" if status == "not run" else "warn")


def _hypothesis_block(title: str, hypothesis: Hypothesis | None) -> str:
    head = f"<h4>{_e(title)} {_badge(hypothesis_text(hypothesis))}</h4>"
    if hypothesis is None:
        return head
    items = []
    for probe in hypothesis.probes:
        figures = f"<div>{_e(probe.figures)}</div>" if probe.figures else ""
        error = f'<div class="error">{_e(probe.error)}</div>' if probe.error else ""
        items.append(
            f'<li><div class="probe"><b>{_e(probe.name)}</b> '
            f"{_badge(_probe_result(probe.met, probe.status))}</div>"
            f'<div class="muted">tolerance <code>{_e(probe.tolerance)}</code></div>'
            f"{figures}{error}</li>"
        )
    return head + f'<ul class="probes">{"".join(items)}</ul>'


def _hypotheses_card(index: int, run: Run) -> str:
    body = _hypothesis_block("before the method", run.before)
    if run.during:
        held = sum(1 for h in run.during if h.met is True)
        body += (
            f"<h4>during the method</h4><p>{held} of {len(run.during)} checks met</p>"
        )
    body += _hypothesis_block("after the method", run.after)
    return _card(run_label(index, run), body)


def _fault_block(fault: Fault) -> str:
    verdict_tone = {"Pass": "good", "Fail": "bad", "Error": "bad"}.get(
        fault.verdict, "warn"
    )
    verdict = _badge(Cell(fault.verdict or "no verdict", verdict_tone))
    block = f"<h4>{_e(fault.experiment or 'Litmus run')} {verdict}</h4>" + _dl(
        [
            ("engine", fault.engine),
            ("namespace", fault.namespace),
            ("asked for", fault.settings),
            ("pods faulted", ", ".join(fault.faulted_pods)),
            ("pods matching label", ", ".join(fault.target_pods)),
            ("injected", fmt_time(fault.injected_at) if fault.injected_at else ""),
            ("reverted", fmt_time(fault.reverted_at) if fault.reverted_at else ""),
            ("phase", fault.phase),
            ("probe success", fault.probe_success_percentage),
            ("failure step", fault.failure_step),
            ("launched", fmt_time(fault.started_at) if fault.started_at else ""),
            ("verdict seen", fmt_time(fault.ended_at) if fault.ended_at else ""),
            ("launch → verdict", fmt_s(fault.duration_s) if fault.duration_s else ""),
            ("reported by", ", ".join(fault.activities)),
        ]
    )
    if fault.error:
        block += f'<div class="error">{_e(fault.error)}</div>'
    return block


def _faults_card(index: int, run: Run) -> str:
    body = "".join(_fault_block(f) for f in run.faults) or (
        '<p class="muted">No Litmus activity in this journal.</p>'
    )
    return _card(run_label(index, run), body)


def _mesh_block(change: MeshChange) -> str:
    tone = "bad" if change.status == "failed" else "good"
    head = (
        f"<h4>{_e(change.action)} <span class=muted>({_e(change.phase)}: "
        f"{_e(change.activity)})</span> {_badge(Cell(change.status, tone))}</h4>"
    )
    meta = _dl(
        [
            ("object", change.target),
            ("mesh", " ".join(p for p in (change.mesh, change.api_version) if p)),
            ("result", change.message),
            ("note", change.note),
        ]
    )
    lines = []
    for route in change.routes:
        if route.before == route.after and not route.changed:
            text = f"{_e(route.before)} <span class=muted>(unchanged)</span>"
        else:
            text = f"{_e(route.before)} → <b>{_e(route.after)}</b>"
        lines.append(f"<li><code>{_e(route.route)}</code>: {text}</li>")
    table = f'<ul class="routes">{"".join(lines)}</ul>' if lines else ""
    error = f'<div class="error">{_e(change.error)}</div>' if change.error else ""
    return head + meta + table + error


def _mesh_card(index: int, run: Run) -> str:
    body = "".join(_mesh_block(m) for m in run.mesh) or (
        '<p class="muted">No mesh retry-policy activity in this journal.</p>'
    )
    return _card(run_label(index, run), body)


def _traffic_row(index: int, window: Traffic) -> list[str]:
    where = window.where
    latency = window.latency_ms
    return [
        _td(f"Run {index}"),
        _td(window.activity),
        _td(where),
        _td(window.total, "num"),
        _td(fmt_pct(window.error_rate), "num " + ("bad" if window.failed else "good")),
        _td(fmt_ms(latency.get("p50")), "num"),
        _td(fmt_ms(latency.get("p99")), "num"),
        _td(fmt_ms(latency.get("max")), "num"),
        _td(outcomes_text({**window.statuses, **window.errors})),
        f"<td><code>{_e(window.method)} {_e(window.url)}</code></td>",
    ]


def _traffic_table(runs: Sequence[Run]) -> str:
    rows = [_traffic_row(i, w) for i, r in _numbered(runs) for w in r.traffic]
    if not rows:
        return '<p class="muted">No measure_endpoint output in these journals.</p>'
    headers = ["run", "window", "where", "requests", "errors", "p50", "p99", "max"]
    return _table([*headers, "outcomes", "request"], rows)


def _step_row(step: Step) -> list[str]:
    status_tone = {"succeeded": "good", "failed": "bad"}.get(step.status, "warn")
    name = step.name + (" (background)" if step.background else "")
    detail = _e(step.summary)
    if step.error:
        detail += f'<div class="error">{_e(step.error)}</div>'
    return [
        _td(step.phase),
        f"<td>{_e(name)}<div class=muted><code>{_e(step.func)}</code></div></td>",
        _td(step.status, status_tone),
        _td(fmt_s(step.duration_s), "num"),
        f"<td>{detail}</td>",
    ]


def _steps(index: int, run: Run) -> str:
    steps = list(run.steps) + list(run.rollbacks)
    title = f"<h3>{_e(run_label(index, run))}</h3>"
    if not steps:
        return title + '<p class="muted">No method or rollback activity ran.</p>'
    return title + _table(
        ["phase", "activity", "status", "took", "result"],
        [_step_row(s) for s in steps],
    )


def _deviation(run: Run) -> str:
    if run.deviated is None:
        return "unknown"
    return "yes" if run.deviated else "no"


def _panel(index: int, run: Run) -> charts.Panel:
    windows = run.timeline_traffic
    marks = tuple(
        charts.Mark(x, label)
        for label, moment in fault_marks(run)
        if (x := offset_on_timeline(windows, moment)) is not None
    )
    return charts.Panel(
        run_label(index, run),
        f"{run.status}, deviated: {_deviation(run)}, "
        f"after: {hypothesis_text(run.after).text}",
        windows,
        marks,
        run.slo_latency_ms,
    )


def _charts(runs: Sequence[Run]) -> str:
    panels = [_panel(i, r) for i, r in _numbered(runs)]
    if not any(p.windows for p in panels):
        return '<p class="muted">No traffic was recorded in the method of any run.</p>'
    if not charts.available():
        return (
            '<div class="note">Charts need matplotlib: '
            "<code>pip install 'chaostoolkit-litmus[report]'</code></div>"
        )
    scatter = charts.latency_scatter_svg(panels)
    bars = charts.status_bars_svg(panels)
    return (
        "<h4>latency of every request, by when it was due"
        " (dotted line: the hypothesis' latency limit)</h4>"
        f'<div class="chart">{scatter}</div>'
        "<h4>requests per second, by outcome</h4>"
        f'<div class="chart">{bars}</div>'
    )


def render_html(runs: Sequence[Run], title: str | None = None) -> str:
    """The whole report page for these runs, in the order given."""
    heading = title or (
        runs[0].title if len(runs) == 1 else "Chaos experiments compared"
    )
    numbered = _numbered(runs)
    files = " · ".join(r.file or r.title for r in runs)
    sections = [
        f"<h1>{_e(heading)}</h1>",
        f'<p class="lead">{len(runs)} run{"s" if len(runs) != 1 else ""}: '
        f"{_e(files)}</p>",
        _glance(runs),
        "<h2>Traffic before and during the fault</h2>",
        '<p class="lead">The steady-state check before the method, then the '
        "background traffic of the method (open-loop: requests left on "
        "schedule whatever the service did). Dashed lines mark when Litmus "
        "injected and reverted the fault: only requests after injection "
        "count as under the fault. Runs share the axes.</p>",
        _charts(runs),
        "<h2>Runs</h2>",
        _grid([_run_card(i, r) for i, r in numbered]),
        "<h2>Steady-state hypothesis</h2>",
        _grid([_hypotheses_card(i, r) for i, r in numbered]),
        "<h2>Fault (LitmusChaos)</h2>",
        _grid([_faults_card(i, r) for i, r in numbered]),
        "<h2>Retry policy (mesh)</h2>",
        _grid([_mesh_card(i, r) for i, r in numbered]),
        "<h2>Traffic windows</h2>",
        _traffic_table(runs),
        "<h2>Method and rollbacks</h2>",
        "".join(f'<div class="block">{_steps(i, r)}</div>' for i, r in numbered),
        f"<footer>Made by chaostoolkit-litmus {_e(__version__)} from Chaos Toolkit "
        "journals; times are UTC.</footer>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(heading)}</title><style>{_CSS}</style></head>"
        "<body><main>" + "\n".join(sections) + "</main></body></html>\n"
    )
