"""Traffic windows -> time series for charts and text sparklines (pure).

Requests are placed by the time they were *due* (measure_endpoint's open-loop
schedule), so a stall shows as a column of slow requests at the moment it
began, not smeared to when answers finally came back.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chaoslitmus.http.stats import ERROR_KINDS
from chaoslitmus.report._read import parse_time
from chaoslitmus.report.types import Traffic

__all__ = [
    "ERROR_ORDER",
    "bin_width",
    "Point",
    "Span",
    "counts_per_bin",
    "error_share_per_bin",
    "is_ok",
    "latency_per_bin",
    "offset_on_timeline",
    "outcome_order",
    "sparkline",
    "timeline",
]

# measure_endpoint's error kinds, in the order charts stack them.
ERROR_ORDER: tuple[str, ...] = ERROR_KINDS
_BARS = "▁▂▃▄▅▆▇█"
_NICE_WIDTHS_S = (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600)


@dataclass(frozen=True)
class Point:
    """One request on a run's timeline (seconds since its first window began)."""

    x_s: float
    outcome: str
    latency_ms: float
    ok: bool


@dataclass(frozen=True)
class Span:
    """Where one traffic window sits on the timeline."""

    start_s: float
    end_s: float
    label: str


def is_ok(outcome: str, ok_statuses: Sequence[int] | None = None) -> bool:
    """Whether an outcome counts as success (2xx/3xx unless told otherwise)."""
    if not outcome.isdigit():
        return False
    code = int(outcome)
    if ok_statuses:
        return code in ok_statuses
    return 200 <= code < 400


def outcome_order(outcomes: Iterable[str]) -> list[str]:
    """Status codes ascending, then error kinds in a fixed order, then the rest."""
    found = set(outcomes)
    codes = sorted((o for o in found if o.isdigit()), key=int)
    errors = [kind for kind in ERROR_ORDER if kind in found]
    rest = sorted(found - set(codes) - set(errors))
    return codes + errors + rest


def bin_width(
    length_s: float, requests: int, max_bins: int = 40, per_bin: int = 5
) -> float:
    """A round bin width: at most ``max_bins`` bins, about ``per_bin`` requests each.

    Short lab windows (1.5 s) get quarter-second bins and long cluster
    windows (10 min) get 15 s bins; either way a bin holds enough requests
    for its mix of outcomes to mean something.
    """
    if length_s <= 0:
        return 1.0
    rate = requests / length_s if requests else 0.0
    wanted = max(length_s / max_bins, per_bin / rate if rate else 1.0)
    for width in _NICE_WIDTHS_S:
        if width >= wanted - 1e-9:
            return float(width)
    return float(math.ceil(wanted / 600) * 600)


def _window_length(window: Traffic) -> float:
    last = max((s.offset_s for s in window.samples), default=0.0)
    return max(window.duration_s or 0.0, last)


def timeline(windows: Sequence[Traffic]) -> tuple[list[Point], list[Span]]:
    """Every request of these windows on one time axis, and the windows' spans.

    Windows with a start time are placed by it; one without is put right
    after the previous window, so nothing is lost when times are missing.
    """
    starts = [parse_time(w.started_at) for w in windows]
    known = [t for t in starts if t is not None]
    origin = min(known) if known else None
    points: list[Point] = []
    spans: list[Span] = []
    cursor = 0.0
    for window, start in zip(windows, starts, strict=True):
        if start is not None and origin is not None:
            begin = (start - origin).total_seconds()
        else:
            begin = cursor
        length = _window_length(window)
        label = window.activity + (f" ({window.segment})" if window.segment else "")
        spans.append(Span(begin, begin + length, label))
        cursor = max(cursor, begin + length)
        for sample in window.samples:
            points.append(
                Point(
                    begin + sample.offset_s,
                    sample.outcome,
                    sample.latency_ms,
                    is_ok(sample.outcome, window.ok_statuses),
                )
            )
    return points, spans


def offset_on_timeline(windows: Sequence[Traffic], moment: str) -> float | None:
    """Where a time (e.g. the fault's injection) falls on ``timeline(windows)``'s
    axis; None when it or the windows' start times are unknown."""
    at = parse_time(moment)
    known = [t for t in (parse_time(w.started_at) for w in windows) if t is not None]
    if at is None or not known:
        return None
    return (at - min(known)).total_seconds()


def _bins(points: Sequence[Point], width_s: float, length_s: float | None) -> int:
    if not points and not length_s:
        return 0
    by_points = math.floor(max(p.x_s for p in points) / width_s) + 1 if points else 0
    by_length = math.ceil(round((length_s or 0.0) / width_s, 9))
    return max(1, by_points, by_length)


def counts_per_bin(
    points: Sequence[Point], width_s: float = 1.0, length_s: float | None = None
) -> list[Counter[str]]:
    """Requests per outcome in each time bin (bin i covers [i*w, (i+1)*w))."""
    bins: list[Counter[str]] = [
        Counter() for _ in range(_bins(points, width_s, length_s))
    ]
    for point in points:
        bins[max(0, int(point.x_s // width_s))][point.outcome] += 1
    return bins


def error_share_per_bin(
    points: Sequence[Point], width_s: float = 1.0, length_s: float | None = None
) -> list[float | None]:
    """Share of failed requests per bin (None where nothing was due)."""
    totals = [0] * _bins(points, width_s, length_s)
    failed = [0] * len(totals)
    for point in points:
        index = max(0, int(point.x_s // width_s))
        totals[index] += 1
        failed[index] += 0 if point.ok else 1
    return [f / t if t else None for f, t in zip(failed, totals, strict=True)]


def latency_per_bin(
    points: Sequence[Point],
    percentile: float = 99,
    width_s: float = 1.0,
    length_s: float | None = None,
) -> list[float | None]:
    """Nearest-rank latency percentile per bin (None where nothing was due)."""
    buckets: list[list[float]] = [[] for _ in range(_bins(points, width_s, length_s))]
    for point in points:
        buckets[max(0, int(point.x_s // width_s))].append(point.latency_ms)
    result: list[float | None] = []
    for bucket in buckets:
        if not bucket:
            result.append(None)
            continue
        bucket.sort()
        rank = max(1, math.ceil(round(percentile / 100 * len(bucket), 9)))
        result.append(bucket[rank - 1])
    return result


def sparkline(values: Sequence[float | None], top: float) -> str:
    """Block characters scaled to ``top`` (shared across runs); gaps as spaces.

    Zero is drawn as the lowest block and anything above zero at least one
    step higher, so a single error never looks like none.
    """
    chars = []
    for value in values:
        if value is None:
            chars.append(" ")
            continue
        if top <= 0 or value <= 0:
            chars.append(_BARS[0])
            continue
        level = math.ceil(min(value / top, 1.0) * (len(_BARS) - 1))
        chars.append(_BARS[max(1, level)])
    return "".join(chars)
