"""A sweep file (written by `chaoslitmus sweep`) as report rows, pure.

Detection is by the file's `kind`; each fault becomes a grid of policies
(max_retries x per-try timeout) with error ratio, p99 and attempts per
request, and whether the cell met the SLO.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SWEEP_KIND",
    "FaultGrid",
    "GridCell",
    "fault_grids",
    "is_sweep",
    "sweep_problem",
]

SWEEP_KIND = "chaoslitmus-sweep"  # the value chaoslitmus.sweep.runner writes


def is_sweep(document: Any) -> bool:
    return isinstance(document, dict) and document.get("kind") == SWEEP_KIND


def sweep_problem(document: Mapping[str, Any]) -> str | None:
    """What makes a sweep file unusable, in a few words, or None."""
    for key, kind in (
        ("plan", dict),
        ("faults", list),
        ("policies", list),
        ("cells", list),
        ("recommendation", dict),
    ):
        if not isinstance(document.get(key), kind):
            return (
                f"'{key}' is missing or not a{'n object' if kind is dict else ' list'}"
            )
    return None


@dataclass(frozen=True)
class GridCell:
    max_retries: int
    per_try_ms: int
    error_ratio: float | None
    p99_ms: float | None
    attempts_per_request: float | None
    rescued: int | None
    meets_slo: bool | None  # None: not measured (pruned, or not reached)
    why: str


@dataclass(frozen=True)
class FaultGrid:
    label: str
    retries: tuple[int, ...]
    per_try: tuple[int, ...]
    cells: tuple[GridCell, ...]

    def at(self, retries: int, per_try: int) -> GridCell | None:
        for cell in self.cells:
            if cell.max_retries == retries and cell.per_try_ms == per_try:
                return cell
        return None


def fault_grids(document: Mapping[str, Any]) -> list[FaultGrid]:
    """One grid per fault, with every planned policy (pruned ones empty)."""
    plan = document["plan"]
    retries = tuple(plan.get("max_retries") or ())
    per_try = tuple(plan.get("per_try_ms") or ())
    pruned = {
        (p["policy"]["max_retries"], p["policy"]["per_retry_timeout_ms"]): p["reason"]
        for p in document.get("pruned") or []
    }
    grids = []
    for fault in document["faults"]:
        mine = {
            (c["policy"]["max_retries"], c["policy"]["per_retry_timeout_ms"]): c
            for c in document["cells"]
            if c["fault"] == fault
        }
        cells = []
        for r in retries:
            for p in per_try:
                cells.append(_cell(r, p, mine.get((r, p)), pruned.get((r, p))))
        grids.append(
            FaultGrid(
                f"{fault['latency_ms']} ms on {fault['pods_affected_perc']}% of pods",
                retries,
                per_try,
                tuple(cells),
            )
        )
    return grids


def _cell(
    r: int, p: int, cell: Mapping[str, Any] | None, pruned: str | None
) -> GridCell:
    if cell is None:
        why = f"pruned: {pruned}" if pruned else "not run"
        return GridCell(r, p, None, None, None, None, None, why)
    traffic = cell.get("traffic") or {}
    retries = cell.get("retries") or {}
    return GridCell(
        r,
        p,
        traffic.get("error_ratio"),
        traffic.get("p99_ms"),
        retries.get("attempts_per_request"),
        retries.get("rescued"),
        bool(cell.get("meets_slo")),
        str(cell.get("why", "")),
    )
