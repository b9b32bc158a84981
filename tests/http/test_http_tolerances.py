"""Probe tolerances judge a measurement and say, in one log line, why."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.http.stats import Outcome, summarize
from chaoslitmus.http.tolerances import (
    error_rate_at_most,
    latency_at_most,
    status_codes_within,
)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def log() -> Iterator[list[str]]:
    """Lines logged on the `chaostoolkit` logger (which may not propagate)."""
    logger = logging.getLogger("chaostoolkit")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def measurement(
    ok: int = 90, server_errors: int = 0, timeouts: int = 0, slow_ms: float = 0.0
) -> dict:
    """A measure_endpoint-shaped result: `ok` 200s at 20 ms, then the faults."""
    outcomes = [Outcome(i / 10, i / 10, 200, None, 20.0) for i in range(ok)]
    outcomes += [Outcome(0, 0, 500, None, 30.0) for _ in range(server_errors)]
    outcomes += [Outcome(0, 0, None, "timeout", 5000.0) for _ in range(timeouts)]
    if slow_ms:
        outcomes += [Outcome(0, 0, 200, None, slow_ms) for _ in range(10)]
    result = summarize(
        outcomes, ok_statuses=None, rate_per_s=10, duration_s=10, elapsed_s=10
    )
    return {"url": "http://127.0.0.1/x", **result}


def test_error_rate_holds_at_the_limit_and_breaks_above_it(log: list[str]) -> None:
    value = measurement(ok=95, server_errors=4, timeouts=1)
    assert error_rate_at_most(value, max_ratio=0.05) is True
    assert error_rate_at_most(value, max_ratio=0.04) is False
    assert log[0].startswith("tolerance error_rate_at_most held: error_rate 0.0500")
    assert "(5 of 100 requests: 200 x95, 500 x4, timeout x1)" in log[0]
    assert "broken" in log[1] and "> max_ratio 0.04" in log[1]
    assert error_rate_at_most(measurement()) is True  # default max_ratio 0


def test_latency_uses_the_chosen_percentile(log: list[str]) -> None:
    value = measurement(ok=90, slow_ms=3000.0)  # 10% of requests took 3 s
    assert latency_at_most(value, percentile=50, max_ms=100) is True
    assert latency_at_most(value, percentile=99, max_ms=2500) is False
    assert latency_at_most(value, percentile=90, max_ms=100) is True
    assert latency_at_most(value, percentile=91, max_ms=100) is False  # from samples
    assert latency_at_most(value, percentile=100, max_ms=3000) is True
    assert log[1] == (
        "tolerance latency_at_most broken: p99 3000 ms over 100 requests > max_ms 2500"
    )
    assert latency_at_most(250.0, max_ms=300) is True  # http_latency_ms output


def test_status_codes_within_lists_what_fell_outside(log: list[str]) -> None:
    value = measurement(ok=90, server_errors=3, timeouts=2)
    assert status_codes_within(value, allowed=[200, 500]) is False
    assert log[-1].endswith("2 of 95 requests outside [200, 500]: timeout x2")
    assert status_codes_within(value) is False
    assert "500 x3, timeout x2" in log[-1]
    assert status_codes_within(measurement(), allowed=[200]) is True
    assert status_codes_within(503, allowed=[503]) is True  # http_status output
    assert status_codes_within(200, allowed=[503]) is False


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: error_rate_at_most(None), "no measurement to judge"),
        (lambda: error_rate_at_most({"total": 0}), "holds no requests"),
        (lambda: error_rate_at_most(measurement(), max_ratio=1.5), "between 0 and 1"),
        (lambda: error_rate_at_most(measurement(), max_ratio="x"), "must be a number"),
        (lambda: latency_at_most(measurement(), percentile=0), "whole number 1-100"),
        (lambda: latency_at_most(measurement(), max_ms=0), "max_ms must be > 0"),
        (lambda: latency_at_most("fast"), "no measurement to judge"),
        (
            lambda: status_codes_within(measurement(), allowed=[]),
            "list of status codes",
        ),
        (
            lambda: status_codes_within(measurement(), allowed=["200"]),
            "not a status code",
        ),
    ],
)
def test_bad_input_fails_with_one_line(call, message: str) -> None:
    with pytest.raises(ActivityFailed) as failure:
        call()
    assert message in str(failure.value) and "\n" not in str(failure.value)


def test_a_percentile_without_samples_asks_for_a_reported_one() -> None:
    value = measurement()
    value.pop("samples")
    assert latency_at_most(value, percentile=95, max_ms=100) is True
    with pytest.raises(ActivityFailed, match="use 50, 90, 95, 99 or 100"):
        latency_at_most(value, percentile=75, max_ms=100)


def test_within_slo_judges_errors_and_latency_together():
    from chaoslitmus.http.tolerances import within_slo

    good = {
        "total": 4,
        "failed": 0,
        "error_rate": 0.0,
        "statuses": {"200": 4},
        "errors": {},
        "latency_ms": {"p50": 10.0, "p90": 12.0, "p95": 12.0, "p99": 12.0, "max": 12.0},
    }
    assert within_slo(good, max_error_ratio=0, percentile=99, max_latency_ms=2500)
    slow = {**good, "latency_ms": {**good["latency_ms"], "p99": 2600.0}}
    assert not within_slo(slow, max_error_ratio=0, percentile=99, max_latency_ms=2500)
    failing = {
        **good,
        "failed": 1,
        "error_rate": 0.25,
        "statuses": {"200": 3, "500": 1},
    }
    assert not within_slo(failing, max_error_ratio=0, max_latency_ms=2500)
