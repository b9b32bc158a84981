"""A sweep as HTML (heatmaps, the `report` extra draws them) or markdown.

The recommendation comes first, then one grid per fault. Markdown needs no
matplotlib; HTML without it still has the coloured tables.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from chaoslitmus.report.sweep_model import FaultGrid, GridCell, fault_grids

__all__ = ["render_sweep_html", "render_sweep_markdown"]

_METRICS = (
    ("error ratio", "error_ratio", "{:.3f}"),
    ("p99 ms", "p99_ms", "{:.0f}"),
    ("attempts/request", "attempts_per_request", "{:.2f}"),
)


def _value(cell: GridCell | None, attr: str, fmt: str) -> str:
    if cell is None or cell.meets_slo is None:
        return "pruned" if cell is not None and cell.why.startswith("pruned") else "–"
    value = getattr(cell, attr)
    return fmt.format(value) if isinstance(value, (int, float)) else "n/a"


def _headline(document: Mapping[str, Any]) -> list[str]:
    rec = document["recommendation"]
    plan = document["plan"]
    lines = [rec.get("sentence", "")]
    lines += [lucky["sentence"] + "." for lucky in rec.get("lucky") or []]
    lines.append(
        f"SLO: error ratio <= {plan['slo_error_ratio']:g}, p99 <= "
        f"{plan['slo_p99_ms']:g} ms; callers wait {plan['caller_timeout_ms']:g} ms; "
        f"{plan['fault_s']:g} s per fault window."
    )
    lines += [
        f"Pruned {p['label']}: {p['reason']}." for p in document.get("pruned") or []
    ]
    timing = document.get("timing") or {}
    if timing:
        lines.append(
            f"Sweep {document.get('status', '?')}: {timing.get('cells_done')} of "
            f"{timing.get('cells_planned')} cells in {timing.get('wall_s')} s "
            f"({timing.get('fault_windows_s')} s of fault windows)."
        )
    return lines


def render_sweep_markdown(document: Mapping[str, Any], title: str | None = None) -> str:
    out = [f"# {title or 'Retry policy sweep'}", ""]
    out += [f"- {line}" for line in _headline(document)]
    for grid in fault_grids(document):
        out += ["", f"## {grid.label}", ""]
        out.append(
            "| policy | SLO | " + " | ".join(m[0] for m in _METRICS) + " | rescued |"
        )
        out.append("|---|---|" + "---|" * (len(_METRICS) + 1))
        for cell in grid.cells:
            verdict = {True: "met", False: "missed", None: "–"}[cell.meets_slo]
            values = [_value(cell, attr, fmt) for _, attr, fmt in _METRICS]
            rescued = "–" if cell.rescued is None else str(cell.rescued)
            out.append(
                f"| {cell.max_retries} x {cell.per_try_ms} ms | {verdict} | "
                + " | ".join(values)
                + f" | {rescued} |"
            )
    return "\n".join(out) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #212121; }
.rec { background: #e8f5e9; border-left: 6px solid #2e7d32; padding: .6em 1em; }
.rec.none { background: #ffebee; border-color: #c62828; }
table { border-collapse: collapse; margin: .5em 1.5em 1em 0; display: inline-table; }
th, td { border: 1px solid #cfd8dc; padding: .3em .6em; text-align: right; }
th { background: #eceff1; }
td.met { background: #c8e6c9; } td.missed { background: #ffcdd2; }
td.none { background: #f5f5f5; color: #9e9e9e; }
"""


def render_sweep_html(document: Mapping[str, Any], title: str | None = None) -> str:
    from chaoslitmus.report import charts

    name = html.escape(title or "Retry policy sweep")
    rec = document["recommendation"]
    lines = _headline(document)
    css = "rec" if rec.get("recommended") else "rec none"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{name}</title>",
        f"<style>{_CSS}</style></head><body><h1>{name}</h1>",
        f"<div class='{css}'><p><strong>{html.escape(lines[0])}</strong></p>",
        "".join(f"<p>{html.escape(line)}</p>" for line in lines[1:]),
        "</div>",
    ]
    draw = charts.available()
    for index, grid in enumerate(fault_grids(document)):
        parts.append(f"<h2>{html.escape(grid.label)}</h2>")
        if draw:
            from chaoslitmus.report.sweep_charts import heatmaps_svg

            parts.append(heatmaps_svg(grid, prefix=f"sweep{index}-"))
        parts.extend(_table(grid, label, attr, fmt) for label, attr, fmt in _METRICS)
    parts.append("</body></html>\n")
    return "".join(parts)


def _table(grid: FaultGrid, label: str, attr: str, fmt: str) -> str:
    head = "".join(f"<th>{p} ms</th>" for p in grid.per_try)
    rows = []
    for r in grid.retries:
        tds = []
        for p in grid.per_try:
            cell = grid.at(r, p)
            css = {True: "met", False: "missed", None: "none"}[
                None if cell is None else cell.meets_slo
            ]
            tip = html.escape(cell.why if cell else "")
            tds.append(
                f"<td class='{css}' title='{tip}'>{_value(cell, attr, fmt)}</td>"
            )
        rows.append(f"<tr><th>{r} retries</th>{''.join(tds)}</tr>")
    caption = f"<caption>{html.escape(label)} (green: met the SLO)</caption>"
    return f"<table>{caption}<tr><th></th>{head}</tr>{''.join(rows)}</table>"
