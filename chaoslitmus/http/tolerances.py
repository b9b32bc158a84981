"""Tolerances for measure_endpoint results, used as probe tolerances.

In a steady-state hypothesis, a tolerance of type "probe" calls one of these
with the measurement injected as ``value``::

    "tolerance": {"type": "probe", "name": "few-errors", "provider": {
        "type": "python", "module": "chaoslitmus.http.tolerances",
        "func": "error_rate_at_most", "arguments": {"max_ratio": 0.01}}}

Each logs one line on the ``chaostoolkit`` logger saying which figure held or
broke which limit, so the console explains a deviation without the journal.
A missing measurement or a bad limit raises ActivityFailed, which Chaos
Toolkit reports as a tolerance not met.
"""

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, Dict, List

from chaoslib.exceptions import ActivityFailed

from chaoslitmus.http import stats

__all__ = [
    "error_rate_at_most",
    "latency_at_most",
    "status_codes_within",
    "within_slo",
]

logger = logging.getLogger("chaostoolkit")


def error_rate_at_most(value: Dict[str, Any] = None, max_ratio: float = 0.0) -> bool:
    """Hold when the share of failed requests is at most `max_ratio` (0..1).

    Failed means a status outside measure_endpoint's `ok_statuses`, or no
    answer (timeout, refused, reset, overflow). `value` is measure_endpoint's
    output, injected by Chaos Toolkit.
    """
    name = "error_rate_at_most"
    limit = _number(name, "max_ratio", max_ratio)
    if not 0 <= limit <= 1:
        raise ActivityFailed(
            f"{name}: max_ratio must be between 0 and 1, got {max_ratio!r}"
        )
    measured = _measurement(name, value)
    rate = float(measured.get("error_rate", 0.0))
    failed = int(measured.get("failed", round(rate * measured["total"])))
    held = rate <= limit
    _log(
        name,
        held,
        f"error_rate {rate:.4f} ({failed} of {measured['total']} requests"
        f"{_breakdown(measured)}) {'<=' if held else '>'} max_ratio {limit:g}",
    )
    return held


def latency_at_most(
    value: Dict[str, Any] = None, percentile: int = 99, max_ms: float = 1000.0
) -> bool:
    """Hold when the `percentile`-th latency is at most `max_ms` milliseconds.

    Uses measure_endpoint's nearest-rank percentiles (p50/p90/p95/p99, or
    computed from its samples for any other percentile 1-100; 100 is the
    maximum). Errors count with the time they took, timeouts included.
    `value` may also be a single number, e.g. http_latency_ms's output.
    """
    name = "latency_at_most"
    limit = _number(name, "max_ms", max_ms)
    if limit <= 0:
        raise ActivityFailed(f"{name}: max_ms must be > 0, got {max_ms!r}")
    rank = _percentile_arg(name, percentile)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        figure, label, context = float(value), "latency", ""
    else:
        measured = _measurement(name, value)
        figure = _latency_percentile(measured, rank)
        label, context = f"p{rank}", f" over {measured['total']} requests"
    held = figure <= limit
    _log(
        name,
        held,
        f"{label} {figure:g} ms{context} {'<=' if held else '>'} max_ms {limit:g}",
    )
    return held


def status_codes_within(
    value: Dict[str, Any] = None, allowed: List[int] = (200,)
) -> bool:
    """Hold when every request got a status listed in `allowed`.

    A request with no status at all (timeout, refused, reset, overflow) is
    outside. `value` is measure_endpoint's output, or one status code such
    as http_status's output.
    """
    name = "status_codes_within"
    codes = _allowed(name, allowed)
    if isinstance(value, int) and not isinstance(value, bool):
        held = value in codes
        _log(name, held, f"status {value} {'in' if held else 'not in'} {list(codes)}")
        return held
    measured = _measurement(name, value)
    outside: dict[str, int] = {}
    for code, count in _counts(measured.get("statuses")).items():
        if count and (not code.isdigit() or int(code) not in codes):
            outside[code] = count
    for kind, count in _counts(measured.get("errors")).items():
        if count:
            outside[kind] = count
    held = not outside
    detail = ", ".join(f"{key} x{count}" for key, count in outside.items())
    _log(
        name,
        held,
        f"{sum(outside.values())} of {measured['total']} requests outside "
        f"{list(codes)}" + (f": {detail}" if detail else ""),
    )
    return held


def within_slo(
    value: Dict[str, Any] = None,
    max_error_ratio: float = 0.0,
    percentile: int = 99,
    max_latency_ms: float = 1000.0,
) -> bool:
    """Hold when one measurement meets both an error-rate and a latency limit.

    One traffic window judged twice (`error_rate_at_most` and
    `latency_at_most`), so a hypothesis needs a single measure_endpoint
    probe; both figures are logged even when the first one breaks.
    """
    errors_ok = error_rate_at_most(value, max_error_ratio)
    latency_ok = latency_at_most(value, percentile, max_latency_ms)
    return errors_ok and latency_ok


def _measurement(name: str, value: Any) -> Mapping[str, Any]:
    """The measure_endpoint dict, or ActivityFailed when there is none to judge."""
    if not isinstance(value, Mapping) or "total" not in value:
        raise ActivityFailed(
            f"{name}: no measurement to judge (got {type(value).__name__}); use it as "
            "a probe tolerance on chaoslitmus.http.probes.measure_endpoint"
        )
    if not value["total"]:
        raise ActivityFailed(f"{name}: the measurement holds no requests")
    return value


def _latency_percentile(measured: Mapping[str, Any], rank: int) -> float:
    summary = measured.get("latency_ms") or {}
    key = "max" if rank == 100 else f"p{rank}"
    if key in summary:
        return float(summary[key])
    samples = measured.get("samples") or []
    if not samples:
        raise ActivityFailed(
            f"latency_at_most: p{rank} needs the measurement's samples; "
            "use 50, 90, 95, 99 or 100"
        )
    return stats.percentile(sorted(float(s[2]) for s in samples), rank)


def _breakdown(measured: Mapping[str, Any]) -> str:
    parts = [
        f"{code} x{n}" for code, n in _counts(measured.get("statuses")).items() if n
    ]
    parts += [
        f"{kind} x{n}" for kind, n in _counts(measured.get("errors")).items() if n
    ]
    return f": {', '.join(parts)}" if parts else ""


def _counts(mapping: Any) -> dict[str, int]:
    if not isinstance(mapping, Mapping):
        return {}
    return {str(key): int(count) for key, count in mapping.items()}


def _number(name: str, arg: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ActivityFailed(f"{name}: {arg} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ActivityFailed(f"{name}: {arg} must be finite, got {value!r}")
    return float(value)


def _percentile_arg(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise ActivityFailed(
            f"{name}: percentile must be a whole number 1-100, got {value!r}"
        )
    return value


def _allowed(name: str, allowed: Any) -> tuple[int, ...]:
    if isinstance(allowed, int) and not isinstance(allowed, bool):
        allowed = (allowed,)
    if (
        isinstance(allowed, (str, bytes))
        or not isinstance(allowed, Sequence)
        or not allowed
    ):
        raise ActivityFailed(
            f"{name}: allowed must be a list of status codes, got {allowed!r}"
        )
    for code in allowed:
        if isinstance(code, bool) or not isinstance(code, int):
            raise ActivityFailed(f"{name}: allowed holds {code!r}, not a status code")
    return tuple(allowed)


def _log(name: str, held: bool, detail: str) -> None:
    if held:
        logger.info("tolerance %s held: %s", name, detail)
    else:
        logger.warning("tolerance %s broken: %s", name, detail)
