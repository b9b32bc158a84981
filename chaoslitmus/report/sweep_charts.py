"""A fault's heatmaps (max_retries x per-try timeout) as inline SVG.

Drawn with matplotlib's object API like the other charts (no pyplot, fixed
hash salt, no date), so the same sweep always gives the same bytes. One
panel per metric: error ratio, p99, attempts per request; a cross marks a
cell that missed the SLO, an empty cell a pruned (or unrun) policy.
"""

from __future__ import annotations

import io

from chaoslitmus.report.charts import _inline
from chaoslitmus.report.sweep_model import FaultGrid

__all__ = ["heatmaps_svg"]

_PANELS = (
    ("error ratio", "error_ratio", "{:.2f}", "Reds"),
    ("p99 (ms)", "p99_ms", "{:.0f}", "Oranges"),
    ("attempts per request", "attempts_per_request", "{:.2f}", "Blues"),
)
_RC = {"svg.hashsalt": "chaoslitmus-sweep", "svg.fonttype": "none", "font.size": 8}


def heatmaps_svg(grid: FaultGrid, prefix: str = "sweep-") -> str:
    import numpy as np
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    rows, cols = len(grid.retries), len(grid.per_try)
    with rc_context(_RC):
        figure = Figure(figsize=(3.0 * len(_PANELS), 0.45 * rows + 1.2))
        axes = figure.subplots(1, len(_PANELS))
        for ax, (title, attr, fmt, cmap) in zip(axes, _PANELS, strict=True):
            values = np.full((rows, cols), np.nan)
            for i, r in enumerate(grid.retries):
                for j, p in enumerate(grid.per_try):
                    cell = grid.at(r, p)
                    value = getattr(cell, attr) if cell else None
                    if cell and cell.meets_slo is not None and value is not None:
                        values[i, j] = value
            image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, aspect="auto")
            for i, r in enumerate(grid.retries):
                for j, p in enumerate(grid.per_try):
                    cell = grid.at(r, p)
                    if np.isnan(values[i, j]):
                        pruned = cell is not None and cell.why.startswith("pruned")
                        ax.text(
                            j,
                            i,
                            "pruned" if pruned else "–",
                            ha="center",
                            va="center",
                            fontsize=7,
                            color="#757575",
                        )
                        continue
                    mark = "" if cell and cell.meets_slo else " ✗"
                    shade = image.norm(values[i, j])
                    ax.text(
                        j,
                        i,
                        fmt.format(values[i, j]) + mark,
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if shade > 0.6 else "black",
                    )
            ax.set_title(title)
            ax.set_xticks(range(cols), [f"{p}" for p in grid.per_try])
            ax.set_yticks(range(rows), [f"{r}" for r in grid.retries])
            ax.set_xlabel("per-try timeout (ms)")
            ax.set_ylabel("max retries")
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _inline(buffer.getvalue(), prefix)
