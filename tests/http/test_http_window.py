"""Abort limits and the guard's sliding window: pure, judged by hand-made
outcomes; and wait_for_recovery against a server that stalls, then heals."""

from __future__ import annotations

import pytest
import requests

from chaoslitmus.http.probes import wait_for_recovery
from chaoslitmus.http.stats import Outcome
from chaoslitmus.http.window import (
    AbortLimits,
    SlidingWindow,
    breaches,
    default_min_requests,
    parse_abort_when,
    recovery_misses,
)


def ok(at_s: float, latency_ms: float = 5.0) -> Outcome:
    return Outcome(at_s, at_s, 200, None, latency_ms)


def failed(at_s: float) -> Outcome:
    return Outcome(at_s, at_s, 500, None, 2500.0)


def test_parse_abort_when_defaults_and_describe():
    limits = parse_abort_when({"error_ratio_above": 0.8})
    assert limits == AbortLimits(window_s=5.0, error_ratio_above=0.8)
    both = parse_abort_when(
        {"error_ratio_above": 0.1, "latency_ms_above": 800, "percentile": 95}
    )
    assert both.describe() == "error ratio > 0.1 or p95 > 800 ms over 5 s"
    assert default_min_requests(limits, 5) == 13
    assert (
        default_min_requests(
            parse_abort_when({"error_ratio_above": 0.1, "min_requests": 2}), 5
        )
        == 2
    )


@pytest.mark.parametrize(
    "value, says",
    [
        ("0.8", "abort_when must be a mapping"),
        ({"error_ratio_above": True}, "error_ratio_above must be a number"),
        ({"error_ratio_above": 0.5, "min_requests": 0}, "min_requests must be"),
        ({"latency_ms_above": -1}, "latency_ms_above must be > 0"),
        ({"error_ratio_above": float("nan")}, "must be finite"),
    ],
)
def test_parse_abort_when_refuses_bad_limits(value, says):
    with pytest.raises(ValueError, match=None) as refused:
        parse_abort_when(value)
    assert says in str(refused.value)


def test_the_window_slides_by_when_outcomes_became_known():
    limits = parse_abort_when({"error_ratio_above": 0.4, "window_s": 2})
    window = SlidingWindow(2.0)
    for i in range(10):  # 0.0 .. 0.9 s: all fine
        window.add(ok(i / 10), i / 10)
    early = window.figures(1.0, [], limits)
    assert early["requests"] == 10 and early["error_ratio"] == 0
    assert breaches(early, limits, 5) == []
    for i in range(10):  # known 2.5 .. 3.4 s: errors
        window.add(failed(i / 10), 2.5 + i / 10)
    late = window.figures(3.4, [], limits)
    assert late["requests"] == 10 and late["failed"] == 10  # the fine ones slid out
    assert late["statuses"] == {"500": 10}
    assert breaches(late, limits, 5) == [
        "error ratio 1 > 0.4 over the last 2 s (10 of 10 requests failed: 500 x10)"
    ]
    # Too few requests: not judged yet.
    assert breaches(late, limits, 11) == []


def test_waiting_requests_count_once_past_the_latency_limit():
    limits = parse_abort_when({"latency_ms_above": 1000, "percentile": 50})
    window = SlidingWindow(5.0)
    for i in range(4):
        window.add(ok(i / 10), i / 10)
    figures = window.figures(3.0, [0.5, 0.6, 0.7, 0.8, 2.9], limits)
    # four waits of 2.2-2.5 s count; the one sent 0.1 s ago does not
    assert figures["waiting_over_limit"] == 4 and figures["in_flight"] == 5
    assert figures["p50_ms"] == 5.0  # 4 fast + 4 slow: rank 4 is fast
    assert breaches(figures, limits, 3) == []
    figures = window.figures(3.0, [0.4, 0.5, 0.6, 0.7, 0.8], limits)
    assert figures["p50_ms"] == 2200.0  # rank 5 of 9
    assert breaches(figures, limits, 3) == [
        "p50 2200 ms > 1000 ms over the last 5 s (4 requests, 5 still waiting "
        "past the limit)"
    ]


def test_recovery_misses_name_each_figure():
    measured = {
        "total": 10,
        "failed": 2,
        "error_rate": 0.2,
        "statuses": {"200": 8, "500": 2},
        "errors": {"timeout": 0},
        "latency_ms": {"p99": 2500.0},
    }
    assert recovery_misses(measured, 0, 300) == [
        "error ratio 0.2 > 0 (2 of 10 failed: 200 x8, 500 x2)",
        "p99 2500 ms > baseline 300 ms",
    ]
    assert recovery_misses(measured, 0.2, None) == []
    assert recovery_misses({"total": 0}, 0, None) == ["no request was measured"]


def test_wait_for_recovery_returns_once_a_window_meets_the_baseline(fresh):
    requests.post(fresh.url("/admin/stall"), params={"seconds": 2}, timeout=5)
    recovered = wait_for_recovery(
        fresh.url("/stall"),
        baseline_p99_ms=300,
        within_s=15,
        window_s=1,
        rate_per_s=10,
    )
    assert recovered["recovered"] is True
    assert recovered["windows"] >= 2
    # the stall lasted 2 s: the first clean window starts at or after it
    assert 1.5 <= recovered["recovered_after_s"] <= 6
    assert recovered["window"]["failed"] == 0
    assert recovered["window"]["p99_ms"] <= 300
    assert "met the baseline" in recovered["message"]
