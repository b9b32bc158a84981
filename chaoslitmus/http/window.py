"""Judging traffic against limits: pure functions and a sliding window, no I/O.

Two users: the SLO guard (a window that slides over a never-ending stream,
judged against an *abort* limit) and ``wait_for_recovery`` (whole windows
judged against a baseline). Limits come from experiment files, so parsing
them raises ValueError with one line that names the bad key.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chaoslitmus.http.stats import Outcome, is_ok, percentile

__all__ = [
    "AbortLimits",
    "SlidingWindow",
    "breaches",
    "default_min_requests",
    "parse_abort_when",
    "recovery_misses",
]

MAX_WINDOW_S = 3600.0
_KEYS = (
    "error_ratio_above",
    "window_s",
    "percentile",
    "latency_ms_above",
    "min_requests",
)


@dataclass(frozen=True)
class AbortLimits:
    """When to abort: the window, and one or both limits."""

    window_s: float
    error_ratio_above: float | None = None
    percentile: int = 99
    latency_ms_above: float | None = None
    min_requests: int | None = None

    def describe(self) -> str:
        parts = []
        if self.error_ratio_above is not None:
            parts.append(f"error ratio > {self.error_ratio_above:g}")
        if self.latency_ms_above is not None:
            parts.append(f"p{self.percentile} > {self.latency_ms_above:g} ms")
        return f"{' or '.join(parts)} over {self.window_s:g} s"


def parse_abort_when(value: object) -> AbortLimits:
    """``{error_ratio_above, window_s, percentile, latency_ms_above, min_requests}``."""
    if not isinstance(value, Mapping):
        raise ValueError(
            "abort_when must be a mapping such as "
            '{"error_ratio_above": 0.5, "window_s": 5}, got ' + repr(value)
        )
    unknown = sorted(set(value) - set(_KEYS))
    if unknown:
        raise ValueError(
            f"abort_when has unknown key(s) {', '.join(map(str, unknown))}; "
            f"known: {', '.join(_KEYS)}"
        )
    window_s = _number("abort_when.window_s", value.get("window_s", 5))
    if not 0 < window_s <= MAX_WINDOW_S:
        raise ValueError(f"abort_when.window_s must be > 0 and <= {MAX_WINDOW_S:g}")
    ratio = value.get("error_ratio_above")
    if ratio is not None:
        ratio = _number("abort_when.error_ratio_above", ratio)
        if not 0 <= ratio < 1:
            raise ValueError(
                "abort_when.error_ratio_above must be >= 0 and < 1 (a ratio, "
                f"0.5 = half the requests), got {ratio:g}"
            )
    latency = value.get("latency_ms_above")
    if latency is not None:
        latency = _number("abort_when.latency_ms_above", latency)
        if latency <= 0:
            raise ValueError("abort_when.latency_ms_above must be > 0")
    rank = value.get("percentile", 99)
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= 100:
        raise ValueError(
            f"abort_when.percentile must be a whole number 1-100, got {rank!r}"
        )
    minimum = value.get("min_requests")
    if minimum is not None and (
        isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1
    ):
        raise ValueError(
            f"abort_when.min_requests must be a whole number >= 1, got {minimum!r}"
        )
    if ratio is None and latency is None:
        raise ValueError(
            "abort_when needs error_ratio_above and/or latency_ms_above "
            "(with percentile, default 99)"
        )
    return AbortLimits(window_s, ratio, rank, latency, minimum)


def default_min_requests(limits: AbortLimits, rate_per_s: float) -> int:
    """Requests a window needs before it is judged: half of what it should hold."""
    if limits.min_requests is not None:
        return limits.min_requests
    return max(3, math.ceil(rate_per_s * limits.window_s / 2))


class SlidingWindow:
    """The outcomes that became known in the last ``window_s`` seconds.

    Judged by when each outcome became known, not when it was sent: under a
    fault the errors arrive a timeout after their send, and a window by send
    time would still be waiting for them.
    """

    def __init__(self, window_s: float, ok_statuses: Sequence[int] | None = None):
        self.window_s = window_s
        self.ok_statuses = ok_statuses
        self._seen: deque[tuple[float, Outcome]] = deque()

    def add(self, outcome: Outcome, known_at_s: float) -> None:
        self._seen.append((known_at_s, outcome))

    def figures(
        self, now_s: float, waiting_since_s: Sequence[float], limits: AbortLimits
    ) -> dict[str, Any]:
        """What the window holds at ``now_s`` (JSON-friendly).

        A request still waiting longer than the latency limit already has a
        latency over it, so it counts in the percentile as that wait.
        """
        while self._seen and self._seen[0][0] < now_s - self.window_s:
            self._seen.popleft()
        outcomes = [o for _, o in self._seen]
        statuses = Counter(str(o.status) for o in outcomes if o.status is not None)
        errors = Counter(o.error for o in outcomes if o.error is not None)
        failed = sum(1 for o in outcomes if not is_ok(o.status, self.ok_statuses))
        latencies = [o.latency_ms for o in outcomes]
        waited_ms = [(now_s - due) * 1000.0 for due in waiting_since_s]
        limit = limits.latency_ms_above
        over = [w for w in waited_ms if limit is not None and w > limit]
        figures: dict[str, Any] = {
            "from_s": round(max(now_s - self.window_s, 0.0), 3),
            "to_s": round(now_s, 3),
            "requests": len(outcomes),
            "failed": failed,
            "error_ratio": round(failed / len(outcomes), 4) if outcomes else 0.0,
            "statuses": dict(sorted(statuses.items())),
            "errors": dict(sorted(errors.items())),
            "in_flight": len(waiting_since_s),
            "waiting_over_limit": len(over),
        }
        ranked = sorted(latencies + over)
        rank = limits.percentile
        figures[f"p{rank}_ms"] = round(percentile(ranked, rank), 1)
        return figures


def breaches(
    figures: Mapping[str, Any], limits: AbortLimits, min_requests: int
) -> list[str]:
    """One line per limit the window breaks; none while it holds too few requests."""
    lines = []
    judged = figures["requests"] + figures.get("waiting_over_limit", 0)
    window = f"over the last {limits.window_s:g} s"
    ratio_limit = limits.error_ratio_above
    if (
        ratio_limit is not None
        and figures["requests"] >= min_requests
        and figures["error_ratio"] > ratio_limit
    ):
        lines.append(
            f"error ratio {figures['error_ratio']:g} > {ratio_limit:g} "
            f"{window} ({figures['failed']} of {figures['requests']} requests "
            f"failed{_breakdown(figures)})"
        )
    if limits.latency_ms_above is not None and judged >= min_requests:
        key = f"p{limits.percentile}_ms"
        if figures[key] > limits.latency_ms_above:
            waiting = figures.get("waiting_over_limit", 0)
            lines.append(
                f"p{limits.percentile} {figures[key]:g} ms > "
                f"{limits.latency_ms_above:g} ms {window} "
                f"({figures['requests']} requests"
                + (f", {waiting} still waiting past the limit" if waiting else "")
                + ")"
            )
    return lines


def recovery_misses(
    measured: Mapping[str, Any],
    max_error_ratio: float,
    baseline_p99_ms: float | None,
) -> list[str]:
    """Why a measure_endpoint window does not meet the baseline (empty: it does)."""
    misses = []
    total = int(measured.get("total") or 0)
    if total == 0:
        return ["no request was measured"]
    ratio = float(measured.get("error_rate") or 0.0)
    if ratio > max_error_ratio:
        misses.append(
            f"error ratio {ratio:g} > {max_error_ratio:g} "
            f"({measured.get('failed', 0)} of {total} failed{_breakdown(measured)})"
        )
    if baseline_p99_ms is not None:
        p99 = float((measured.get("latency_ms") or {}).get("p99", 0.0))
        if p99 > baseline_p99_ms:
            misses.append(f"p99 {p99:g} ms > baseline {baseline_p99_ms:g} ms")
    return misses


def _breakdown(figures: Mapping[str, Any]) -> str:
    parts = [f"{code} x{n}" for code, n in (figures.get("statuses") or {}).items() if n]
    parts += [f"{kind} x{n}" for kind, n in (figures.get("errors") or {}).items() if n]
    return f": {', '.join(parts)}" if parts else ""


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)
