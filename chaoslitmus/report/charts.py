"""Traffic charts as inline SVG, drawn with matplotlib (the `report` extra).

matplotlib is imported only when a chart is drawn, so the core install never
needs it. Figures are built with the object API (no pyplot, no GUI backend,
no global state) and rendered to SVG with a fixed hash salt and no date, so
the same journals always give the same bytes. Runs sit side by side on
shared axes: same time scale, same latency scale, same colours.
"""

from __future__ import annotations

import importlib.util
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chaoslitmus.report.model import Traffic
from chaoslitmus.report.series import (
    Point,
    Span,
    bin_width,
    counts_per_bin,
    outcome_order,
    timeline,
)

__all__ = [
    "Mark",
    "Panel",
    "available",
    "latency_scatter_svg",
    "palette",
    "status_bars_svg",
]

_SHADES = {
    "1": ("#78909c", "#b0bec5"),
    "2": ("#2e7d32", "#66bb6a", "#1b5e20", "#a5d6a7"),
    "3": ("#1565c0", "#64b5f6", "#0d47a1"),
    "4": ("#ef6c00", "#ffa726", "#e65100", "#ffcc80"),
    "5": ("#c62828", "#ef9a9a", "#8e0000", "#e57373"),
}
_ERRORS = {
    "timeout": "#6a1b9a",
    "connection": "#37474f",
    "reset": "#8d6e63",
    "protocol": "#00838f",
    "tls": "#ad1457",
    "overflow": "#f9a825",
    "other": "#212121",
}
_FALLBACK = ("#5d4037", "#455a64", "#827717", "#4a148c")
_COLUMNS = 3  # panels per row before wrapping
# Fixed margins (inches): legend band, two-line titles, x labels, y label.
_LEGEND_IN = 0.45
_TITLE_IN = 0.45
_XLABEL_IN = 0.5
_LEFT_IN = 0.8
_RIGHT_IN = 0.15
_GAP_IN = 0.25
_RC = {
    "svg.hashsalt": "chaoslitmus-report",
    "svg.fonttype": "none",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@dataclass(frozen=True)
class Mark:
    """A moment drawn as a vertical line, e.g. when the fault was injected."""

    x_s: float  # on the panel's timeline (series.offset_on_timeline)
    label: str


@dataclass(frozen=True)
class Panel:
    """One run's column in a chart: a title, a second line, the windows to draw,
    the fault's marks and the latency limit of the hypothesis."""

    title: str
    subtitle: str
    windows: tuple[Traffic, ...]
    marks: tuple[Mark, ...] = ()
    limit_ms: float | None = None


def available() -> bool:
    """Whether matplotlib is installed (pip install 'chaostoolkit-litmus[report]')."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):  # blocked or half-installed
        return False


def palette(outcomes: Iterable[str]) -> dict[str, str]:
    """A colour per outcome: greens for 2xx, reds for 5xx, one hue per error kind.

    Codes of one class get successive shades in ascending order, so the
    same set of outcomes always gets the same colours in every chart.
    """
    colours: dict[str, str] = {}
    used: dict[str, int] = {}
    spare = 0
    for outcome in outcome_order(outcomes):
        if outcome.isdigit() and outcome[0] in _SHADES:
            shades = _SHADES[outcome[0]]
            index = used.get(outcome[0], 0)
            used[outcome[0]] = index + 1
            colours[outcome] = shades[index % len(shades)]
        elif outcome in _ERRORS:
            colours[outcome] = _ERRORS[outcome]
        else:
            colours[outcome] = _FALLBACK[spare % len(_FALLBACK)]
            spare += 1
    return colours


def _plain(text: str, limit: int = 60) -> str:
    """Journal text as literal matplotlib text (no mathtext from '$'), cut short."""
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def _title(ax, panel: Panel) -> None:  # noqa: ANN001
    ax.set_title(
        _plain(panel.title) + "\n" + _plain(panel.subtitle), loc="left", fontsize=9
    )


def _layout(count: int) -> tuple[int, int]:
    columns = max(1, min(count, _COLUMNS))
    rows = -(-count // columns)
    return rows, columns


def _figure(panels: Sequence[Panel], height_in: float):  # noqa: ANN202
    from matplotlib.figure import Figure

    rows, columns = _layout(len(panels))
    # About the width of the page whatever the number of runs, one run less wide.
    # Margins are fixed in inches: a layout engine would double the drawing time.
    width_in = 9.0 if columns == 1 else 13.6
    top_in = _LEGEND_IN + _TITLE_IN
    gap_in = _XLABEL_IN + _TITLE_IN
    total_in = top_in + rows * height_in + (rows - 1) * gap_in + _XLABEL_IN
    axes_width_in = (width_in - _LEFT_IN - _RIGHT_IN) / columns
    figure = Figure(figsize=(width_in, total_in))
    axes = figure.subplots(
        rows,
        columns,
        sharex=True,
        sharey=True,
        squeeze=False,
        gridspec_kw={
            "left": _LEFT_IN / width_in,
            "right": 1 - _RIGHT_IN / width_in,
            "top": 1 - top_in / total_in,
            "bottom": _XLABEL_IN / total_in,
            "hspace": gap_in / height_in,
            "wspace": _GAP_IN / (axes_width_in - _GAP_IN),
        },
    )
    flat = [ax for row in axes for ax in row]
    for ax in flat:  # shared axes hide inner tick labels; wrapped rows need them
        ax.tick_params(labelbottom=True)
    for ax in flat[len(panels) :]:
        ax.set_visible(False)
    return figure, flat[: len(panels)]


def _spans(ax, spans: Sequence[Span]) -> None:  # noqa: ANN001
    """Shade each window when a run's chart joins several of them."""
    if len(spans) < 2:
        return
    for index, span in enumerate(spans):
        ax.axvspan(
            span.start_s,
            span.end_s,
            color="#eceff1" if index % 2 == 0 else "#e3f2fd",
            zorder=0,
            linewidth=0,
        )
        ax.annotate(
            _plain(span.label),
            xy=(span.start_s, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -2),
            textcoords="offset points",
            va="top",
            fontsize=7,
            color="#546e7a",
        )


_MARK_COLOURS = ("#d84315", "#1565c0", "#6d4c41")


def _marks(ax, marks: Sequence[Mark]) -> None:  # noqa: ANN001
    """The fault's injected/reverted moments as labelled vertical lines; the
    first label reads right of its line, later ones left of theirs, so the
    last one stays inside the chart."""
    for index, mark in enumerate(marks):
        colour = _MARK_COLOURS[index % len(_MARK_COLOURS)]
        ax.axvline(mark.x_s, color=colour, linestyle="--", linewidth=1.2, zorder=3)
        ax.annotate(
            _plain(mark.label, 30),
            xy=(mark.x_s, 0.0),
            xycoords=("data", "axes fraction"),
            xytext=(3 if index == 0 else -3, 3),
            textcoords="offset points",
            ha="left" if index == 0 else "right",
            va="bottom",
            fontsize=7,
            color=colour,
        )


def _limit(ax, limit_ms: float | None) -> None:  # noqa: ANN001
    """The hypothesis' latency limit as a horizontal line."""
    if limit_ms is None:
        return
    ax.axhline(limit_ms, color="#b71c1c", linestyle=":", linewidth=1.4, zorder=3)
    ax.annotate(
        f"SLO limit {limit_ms:g} ms",
        xy=(1.0, limit_ms),
        xycoords=("axes fraction", "data"),
        xytext=(-3, 3),
        textcoords="offset points",
        ha="right",
        va="bottom",
        fontsize=7,
        color="#b71c1c",
    )


def _svg(figure, handles: list, labels: list[str], prefix: str) -> str:  # noqa: ANN001
    from matplotlib import rc_context

    if handles:
        figure.legend(
            handles,
            labels,
            loc="upper center",
            bbox_to_anchor=(0.5, 1.0),
            ncol=min(len(labels), 8),
            frameon=False,
            title="outcome",
            title_fontsize=8,
            borderaxespad=0.2,
        )
    buffer = io.StringIO()
    with rc_context(_RC):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _inline(buffer.getvalue(), prefix)


def _inline(svg: str, prefix: str) -> str:
    """Make a standalone SVG fit inside HTML: no prolog, no DTD, unique ids."""
    svg = svg[svg.find("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}\1"', svg)
    return svg.strip()


def _points(panels: Sequence[Panel]) -> list[tuple[list[Point], list[Span]]]:
    return [timeline(panel.windows) for panel in panels]


def _end(
    placed: Sequence[tuple[list[Point], list[Span]]], panels: Sequence[Panel] = ()
) -> float:
    ends = [s.end_s for _, spans in placed for s in spans]
    ends += [p.x_s for points, _ in placed for p in points]
    ends += [m.x_s for panel in panels for m in panel.marks]
    return max(ends, default=1.0) or 1.0


def latency_scatter_svg(panels: Sequence[Panel], prefix: str = "lat-") -> str:
    """Latency of every request over time, coloured by outcome, one panel per run."""
    from matplotlib import rc_context

    with rc_context(_RC):
        placed = _points(panels)
        colours = palette(p.outcome for points, _ in placed for p in points)
        figure, axes = _figure(panels, 2.4)
        latencies = [p.latency_ms for points, _ in placed for p in points]
        positive = [v for v in latencies if v > 0]
        log = bool(positive) and max(positive) / max(min(positive), 0.01) > 30
        seen: dict[str, object] = {}
        for ax, panel, (points, spans) in zip(axes, panels, placed, strict=True):
            _frame(ax, panel, spans, bool(points))
            for outcome, colour in colours.items():
                chosen = [p for p in points if p.outcome == outcome]
                if not chosen:
                    continue
                handle = ax.scatter(
                    [p.x_s for p in chosen],
                    [max(p.latency_ms, 0.01) for p in chosen],
                    s=16,
                    color=colour,
                    linewidths=0,
                    alpha=0.85,
                    zorder=2,
                )
                seen.setdefault(outcome, handle)
            _limit(ax, panel.limit_ms)
            _marks(ax, panel.marks)
            ax.set_xlabel("seconds on the run's timeline")
            ax.grid(True, color="#eceff1", linewidth=0.6, zorder=1)
        limits = [p.limit_ms for p in panels if p.limit_ms is not None]
        latencies += limits
        axes[0].set_xlim(0, _end(placed, panels) * 1.02)
        if log:
            from matplotlib.ticker import FuncFormatter

            axes[0].set_yscale("log")
            axes[0].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            # Room above the slowest request and the limit for the line's label.
            axes[0].set_ylim(top=max(latencies) * 2)
        elif latencies:
            axes[0].set_ylim(0, max(latencies) * 1.08 or 1)
        for ax in axes[:: _layout(len(panels))[1]]:
            ax.set_ylabel("latency (ms)" + (", log scale" if log else ""))
        order = [o for o in colours if o in seen]
        return _svg(figure, [seen[o] for o in order], order, prefix)


def _frame(ax: Any, panel: Panel, spans: Sequence[Span], has_points: bool) -> None:
    """What every panel shows first: its title, the window spans, and a note
    when there is no traffic to draw."""
    _title(ax, panel)
    _spans(ax, spans)
    if not has_points:
        ax.text(
            0.5,
            0.5,
            "no traffic recorded",
            transform=ax.transAxes,
            ha="center",
            color="#78909c",
        )


def status_bars_svg(panels: Sequence[Panel], prefix: str = "bars-") -> str:
    """Request rate stacked by outcome, one panel per run, shared bins and axes."""
    from matplotlib import rc_context

    with rc_context(_RC):
        placed = _points(panels)
        colours = palette(p.outcome for points, _ in placed for p in points)
        figure, axes = _figure(panels, 2.0)
        length = _end(placed, panels)
        width = bin_width(length, max(len(points) for points, _ in placed))
        seen: dict[str, object] = {}
        for ax, panel, (points, spans) in zip(axes, panels, placed, strict=True):
            _frame(ax, panel, spans, bool(points))
            bins = counts_per_bin(points, width, length if points else None)
            bottoms = [0.0] * len(bins)
            for outcome, colour in colours.items():
                rates = [b.get(outcome, 0) / width for b in bins]
                if not any(rates):
                    continue
                handle = ax.bar(
                    [(i + 0.5) * width for i in range(len(bins))],
                    rates,
                    width=width * 0.9,
                    bottom=bottoms,
                    color=colour,
                    linewidth=0,
                    zorder=2,
                )
                seen.setdefault(outcome, handle)
                bottoms = [b + r for b, r in zip(bottoms, rates, strict=True)]
            _marks(ax, panel.marks)
            ax.set_xlabel(f"seconds on the run's timeline ({width:g} s bins)")
            ax.grid(True, axis="y", color="#eceff1", linewidth=0.6, zorder=1)
        axes[0].set_xlim(0, max(length, width) * 1.02)
        for ax in axes[:: _layout(len(panels))[1]]:
            ax.set_ylabel("requests per second")
        order = [o for o in colours if o in seen]
        return _svg(figure, [seen[o] for o in order], order, prefix)
