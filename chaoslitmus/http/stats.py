"""Statistics over measured requests: pure functions, no I/O.

Percentiles use the *nearest-rank* definition: for ``n`` sorted values the
p-th percentile is the value at 1-based rank ``ceil(p / 100 * n)``. It always
returns a value that was really observed (no interpolation between a fast and
a stalled request), p100 is the maximum, and with fewer than 100 samples p99
is the maximum too, which is the conservative reading for a tolerance.

Every request counts in the latency figures, errors included: its latency is
the time from its *scheduled* send to the moment its outcome was known (a
response body read, a timeout, a refused connection, a wait for a free slot).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ERROR_KINDS",
    "PERCENTILES",
    "Outcome",
    "achieved_rate",
    "default_ok",
    "is_ok",
    "latency_summary",
    "most_frequent_status",
    "percentile",
    "send_lag_warning",
    "summarize",
    "sustainable_rate",
]

# Percentiles reported by measure_endpoint, flat copies become ``p50_ms``...
PERCENTILES: tuple[int, ...] = (50, 90, 95, 99)

# Why a request got no HTTP status; always reported, zeros included, so a
# report can chart them without guessing which keys exist.
ERROR_KINDS: tuple[str, ...] = (
    "timeout",
    "connection",
    "reset",
    "protocol",
    "tls",
    "overflow",
    "body",
    "other",
)

# Above this p99 send lag the sampler, not only the server, shapes the
# latency figures: a sender on time leaves within about a millisecond
# (an epoll wake-up), so 10 ms is a lag no caller would add.
SEND_LAG_WARNING_MS = 10.0
# The rate estimate keeps the sampler's thread at most half busy, leaving
# room for answers that bunch up and for whatever else shares the machine.
_SAMPLER_BUSY_SHARE = 0.5


@dataclass(frozen=True)
class Outcome:
    """One request: when it was due, when it left, and how it ended.

    ``status`` is the HTTP status when a response arrived; ``error`` names
    one of ERROR_KINDS when the request failed without a status, or, as
    "body", when a response with an ok status broke a body check.
    ``sent_offset_s`` is None for requests that never left (overflow).
    """

    offset_s: float
    sent_offset_s: float | None
    status: int | None
    error: str | None
    latency_ms: float


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values; 0.0 for no values."""
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    n = len(sorted_values)
    if n == 0:
        return 0.0
    # Round p*n first so that 0.9 * 10 gives rank 9, not 10 from 9.000000001.
    rank = math.ceil(round(p / 100 * n, 9))
    return float(sorted_values[max(rank, 1) - 1])


def latency_summary(latencies_ms: Iterable[float]) -> dict[str, float]:
    """p50/p90/p95/p99/max/mean in ms, all 0.0 when nothing was measured."""
    values = sorted(latencies_ms)
    summary = {f"p{p}": _round_ms(percentile(values, p)) for p in PERCENTILES}
    summary["max"] = _round_ms(values[-1]) if values else 0.0
    summary["mean"] = _round_ms(sum(values) / len(values)) if values else 0.0
    return summary


def default_ok(status: int) -> bool:
    """2xx and 3xx: the answer a caller gets when the service works."""
    return 200 <= status < 400


def is_ok(status: int | None, ok_statuses: Sequence[int] | None) -> bool:
    """Whether a response status counts as success (errors never do)."""
    if status is None:
        return False
    if ok_statuses is None:
        return default_ok(status)
    return status in ok_statuses


def most_frequent_status(statuses: Counter[int]) -> int:
    """Most frequent status code, or 0 when no response arrived.

    Ties go to the higher code, so a tie between 200 and 500 never flatters
    the service under an ``"tolerance": 200``.
    """
    if not statuses:
        return 0
    return max(statuses.items(), key=lambda item: (item[1], item[0]))[0]


def summarize(
    outcomes: Sequence[Outcome],
    *,
    ok_statuses: Sequence[int] | None,
    rate_per_s: float,
    duration_s: float,
    elapsed_s: float,
    sampler_busy_s: float | None = None,
) -> dict:
    """The JSON-friendly measurement figures for a list of outcomes.

    No numeric field is ever None: Chaos Toolkit ``range`` tolerances crash
    on None, so an empty measurement reports zeros.
    """
    total = len(outcomes)
    statuses: Counter[int] = Counter(o.status for o in outcomes if o.status is not None)
    errors = {kind: 0 for kind in ERROR_KINDS}
    for o in outcomes:
        if o.error is not None:
            errors[o.error] = errors.get(o.error, 0) + 1
    ok = sum(1 for o in outcomes if o.error is None and is_ok(o.status, ok_statuses))
    latency = latency_summary(o.latency_ms for o in outcomes)
    lag = latency_summary(
        (o.sent_offset_s - o.offset_s) * 1000.0
        for o in outcomes
        if o.sent_offset_s is not None
    )
    achieved = achieved_rate(outcomes, rate_per_s)
    sustainable = sustainable_rate(total, sampler_busy_s)
    warning = send_lag_warning(lag["p99"], rate_per_s, sustainable)
    return {
        "total": total,
        "ok": ok,
        "failed": total - ok,
        "error_rate": round((total - ok) / total, 6) if total else 0.0,
        "status": most_frequent_status(statuses),
        "statuses": {str(code): statuses[code] for code in sorted(statuses)},
        "errors": errors,
        "latency_ms": latency,
        **{f"{key}_ms": value for key, value in latency.items()},
        "rate_per_s": float(rate_per_s),
        "achieved_rate_per_s": achieved,
        "duration_s": float(duration_s),
        "elapsed_s": round(elapsed_s, 3),
        "send_lag_ms": {"p50": lag["p50"], "p99": lag["p99"], "max": lag["max"]},
        "sustainable_rate_per_s": sustainable,
        "warnings": [warning] if warning else [],
        "samples": [
            [
                round(o.offset_s, 3),
                o.error if o.error is not None else o.status,
                _round_ms(o.latency_ms),
            ]
            for o in outcomes
        ],
    }


def achieved_rate(outcomes: Sequence[Outcome], rate_per_s: float) -> float:
    """Requests that really left, per second of the window they left in.

    The window is the schedule's (one interval per planned request), or
    longer when the last request left late, so a sender that kept the
    schedule reports the target rate, and one that fell behind or did not
    send some requests (overflow) reports less.
    """
    sent = [o.sent_offset_s for o in outcomes if o.sent_offset_s is not None]
    if not sent or rate_per_s <= 0:
        return 0.0
    window_s = max(len(outcomes), 1) / rate_per_s
    window_s = max(window_s, max(sent) + 1.0 / rate_per_s)
    return round(len(sent) / window_s, 3)


def sustainable_rate(total: int, sampler_busy_s: float | None) -> float:
    """The request rate this sampler can keep on this machine, estimated.

    `sampler_busy_s` is the time its send loop was not asleep waiting for
    the next due time: its own work, the answers it handled and the time
    the machine gave to others. The estimate is the rate at which that loop
    would be half busy. 0.0 when unknown.
    """
    if not total or not sampler_busy_s or sampler_busy_s <= 0:
        return 0.0
    return round(_SAMPLER_BUSY_SHARE * total / sampler_busy_s, 1)


def send_lag_warning(
    lag_p99_ms: float, rate_per_s: float, sustainable_rate_per_s: float
) -> str | None:
    """A one-line warning when the sampler's own lag shapes the figures."""
    if lag_p99_ms <= SEND_LAG_WARNING_MS:
        return None
    advice = (
        "the sender had time to spare, so the lag came from stalls of the "
        "machine (other processes, CPU limits); measure from a less busy one"
    )
    if 0 < sustainable_rate_per_s < rate_per_s:
        advice = (
            f"this machine sustains about {sustainable_rate_per_s:g} req/s; "
            f"lower rate_per_s to that or split the load over several probes"
        )
    return (
        f"the sampler fell behind its schedule (send lag p99 {lag_p99_ms:g} ms > "
        f"{SEND_LAG_WARNING_MS:g} ms at {rate_per_s:g} req/s), so the latency "
        f"figures include its own lag; {advice}"
    )


def _round_ms(value: float) -> float:
    return round(float(value), 3)
