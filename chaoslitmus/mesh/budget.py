"""Retry budget arithmetic, pure: which retries can still help a caller.

A caller that gives up after `caller_timeout_ms` only benefits from a retry
that starts before it gives up, and only if that retry answers in the time
left. With a per-try timeout P, a back-off B between tries and a slow first
try, retry k starts at about k * (P + B) (docs/mesh-behaviour.md, "The
retry budget").
"""

from __future__ import annotations

from typing import Any

__all__ = ["retry_budget_of"]


def retry_budget_of(
    caller_timeout_ms: float,
    max_retries: int,
    per_retry_timeout_ms: float,
    backoff_ms: float = 25,
) -> dict[str, Any]:
    """The budget of one retry policy against one caller timeout."""
    _check(caller_timeout_ms, max_retries, per_retry_timeout_ms, backoff_ms)
    tries = 1 + max_retries
    worst_case_ms = tries * per_retry_timeout_ms + max_retries * backoff_ms
    windows = []
    for retry in range(1, max_retries + 1):
        starts_at = retry * (per_retry_timeout_ms + backoff_ms)
        if starts_at >= caller_timeout_ms:
            break
        windows.append(
            {
                "retry": retry,
                "starts_at_ms": round(starts_at, 1),
                "must_answer_within_ms": round(
                    min(per_retry_timeout_ms, caller_timeout_ms - starts_at), 1
                ),
            }
        )
    fits = worst_case_ms <= caller_timeout_ms
    return {
        "caller_timeout_ms": caller_timeout_ms,
        "max_retries": max_retries,
        "per_retry_timeout_ms": per_retry_timeout_ms,
        "backoff_ms": backoff_ms,
        "worst_case_ms": round(worst_case_ms, 1),
        "useful_retries": len(windows),
        "retry_windows": windows,
        "fits": fits,
        "sentence": _sentence(caller_timeout_ms, max_retries, worst_case_ms, windows),
    }


def _sentence(
    caller_ms: float, max_retries: int, worst_ms: float, windows: list[dict]
) -> str:
    head = (
        f"{max_retries} retries can take {worst_ms:g} ms in the worst case, "
        f"against a caller timeout of {caller_ms:g} ms"
    )
    if worst_ms <= caller_ms:
        return head + ": every retry fits."
    if not windows:
        return head + ": no retry can start before the caller gives up."
    last = windows[-1]["must_answer_within_ms"]
    if len(windows) == 1:
        return (
            f"{head}: only the first retry can help, and only if it answers "
            f"within {last:g} ms."
        )
    return (
        f"{head}: only the first {len(windows)} retries can help, the last of "
        f"them only if it answers within {last:g} ms."
    )


def _check(caller: Any, retries: Any, per_try: Any, backoff: Any) -> None:
    numbers = (
        ("caller_timeout_ms", caller, 1),
        ("per_retry_timeout_ms", per_try, 1),
        ("backoff_ms", backoff, 0),
    )
    for name, value, minimum in numbers:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number of milliseconds, got {value!r}")
        if value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"max_retries must be an integer >= 0, got {retries!r}")
