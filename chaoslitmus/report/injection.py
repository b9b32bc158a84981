"""Traffic windows cut at the fault's injection time (pure).

Litmus says Running before its helper injects anything (seconds to minutes
later), so the start of a background window launched right after the fault
may see a healthy service. Only requests due at or after the injection time
count as "under the fault"; earlier ones are shown as "before injection".
Figures of each part are recomputed from its own samples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from chaoslitmus.http.stats import latency_summary
from chaoslitmus.report._read import parse_time
from chaoslitmus.report.series import is_ok
from chaoslitmus.report.types import Sample, Traffic

__all__ = ["BEFORE_INJECTION", "UNDER_FAULT", "sample_figures", "split_at_injection"]

BEFORE_INJECTION = "before injection"
UNDER_FAULT = "under the fault"


def sample_figures(
    samples: Sequence[Sample], ok_statuses: Sequence[int] | None = None
) -> dict:
    """total, failed, error_rate, statuses, errors and latency of some samples."""
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    failed = 0
    for sample in samples:
        (statuses if sample.outcome.isdigit() else errors)[sample.outcome] += 1
        failed += 0 if is_ok(sample.outcome, ok_statuses) else 1
    total = len(samples)
    return {
        "total": total,
        "failed": failed,
        "error_rate": failed / total if total else 0.0,
        "statuses": dict(sorted(statuses.items())),
        "errors": dict(errors),
        "latency_ms": latency_summary(s.latency_ms for s in samples) if total else {},
    }


def _part(
    window: Traffic,
    samples: Sequence[Sample],
    segment: str,
    begin_s: float,
    end_s: float | None,
) -> Traffic:
    """The samples of [begin_s, end_s) as a window of their own."""
    figures = sample_figures(samples, window.ok_statuses)
    start = parse_time(window.started_at)
    length = window.duration_s
    if end_s is not None:
        duration: float | None = end_s - begin_s
    else:
        duration = None if length is None else max(0.0, length - begin_s)
    return replace(
        window,
        segment=segment,
        started_at=(start + timedelta(seconds=begin_s)).isoformat()
        if start is not None
        else window.started_at,
        duration_s=duration,
        samples=tuple(replace(s, offset_s=s.offset_s - begin_s) for s in samples),
        achieved_rate_per_s=None,
        **figures,
    )


def split_at_injection(window: Traffic, injected_at: str) -> tuple[Traffic, ...]:
    """The window as its part before injection and its part under the fault.

    A window that started after injection is all under the fault; one whose
    every request was due before it is all before injection. Without a start
    time, an injection time or samples, the window is returned unchanged
    (nothing proves when the fault began within it).
    """
    start, injected = parse_time(window.started_at), parse_time(injected_at)
    if start is None or injected is None or not window.samples:
        return (window,)
    cut_s = (injected - start).total_seconds()
    before = [s for s in window.samples if s.offset_s < cut_s]
    under = [s for s in window.samples if s.offset_s >= cut_s]
    if not before:
        return (replace(window, segment=UNDER_FAULT),)
    if not under:
        return (replace(window, segment=BEFORE_INJECTION),)
    return (
        _part(window, before, BEFORE_INJECTION, 0.0, cut_s),
        _part(window, under, UNDER_FAULT, cut_s, None),
    )
