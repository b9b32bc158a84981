"""The statistics are pure: nearest-rank percentiles and the result shape."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from chaoslitmus.http.stats import (
    ERROR_KINDS,
    Outcome,
    achieved_rate,
    is_ok,
    latency_summary,
    most_frequent_status,
    percentile,
    summarize,
)


def test_nearest_rank_picks_an_observed_value_at_rank_ceil_p_n() -> None:
    values = [15.0, 20.0, 35.0, 40.0, 50.0]
    assert percentile(values, 5) == 15.0  # rank ceil(0.25) = 1
    assert percentile(values, 30) == 20.0  # rank ceil(1.5) = 2
    assert percentile(values, 40) == 20.0  # rank exactly 2
    assert percentile(values, 50) == 35.0  # rank ceil(2.5) = 3
    assert percentile(values, 100) == 50.0


def test_exact_ranks_are_not_pushed_up_by_float_noise() -> None:
    values = [float(v) for v in range(1, 11)]
    # 0.9 * 10 is 9.000000000000002 in floats; the rank is still 9.
    assert percentile(values, 90) == 9.0
    assert percentile(list(range(1, 101)), 99) == 99.0


def test_p99_of_fewer_than_100_samples_is_the_maximum() -> None:
    values = sorted([10.0] * 49 + [3000.0])
    assert percentile(values, 99) == 3000.0
    assert percentile(values, 50) == 10.0


def test_percentile_agrees_with_a_brute_force_definition() -> None:
    rng = random.Random(7)
    for _ in range(200):
        values = sorted(rng.uniform(0, 1000) for _ in range(rng.randint(1, 300)))
        p = rng.choice([1, 25, 50, 90, 95, 99, 99.9, 100])
        # Smallest value such that at least p% of values are <= it.
        expected = next(
            v for v in values if sum(x <= v for x in values) * 100 >= p * len(values)
        )
        assert percentile(values, p) == expected


def test_percentile_of_nothing_is_zero_and_bad_p_is_refused() -> None:
    assert percentile([], 99) == 0.0
    for bad in (0, -1, 100.5):
        with pytest.raises(ValueError):
            percentile([1.0], bad)


def test_latency_summary_has_every_key_even_when_empty() -> None:
    assert latency_summary([]) == {
        "p50": 0.0,
        "p90": 0.0,
        "p95": 0.0,
        "p99": 0.0,
        "max": 0.0,
        "mean": 0.0,
    }
    summary = latency_summary([4.0, 1.0, 3.0, 2.0])
    assert summary["p50"] == 2.0 and summary["max"] == 4.0 and summary["mean"] == 2.5


def test_ok_defaults_to_2xx_and_3xx_and_errors_are_never_ok() -> None:
    assert is_ok(200, None) and is_ok(302, None) and is_ok(399, None)
    assert not is_ok(199, None) and not is_ok(404, None) and not is_ok(500, None)
    assert is_ok(404, [404]) and not is_ok(200, [404])
    assert not is_ok(None, None)


def test_most_frequent_status_breaks_ties_toward_the_higher_code() -> None:
    assert most_frequent_status(Counter()) == 0
    assert most_frequent_status(Counter({200: 3, 500: 1})) == 200
    assert most_frequent_status(Counter({200: 2, 500: 2})) == 500


def _outcome(
    offset: float, status: int | None, error: str | None, ms: float
) -> Outcome:
    return Outcome(offset, None if error == "overflow" else offset, status, error, ms)


def test_summarize_counts_statuses_errors_and_error_rate() -> None:
    outcomes = [_outcome(i * 0.1, 200, None, 10.0 + i) for i in range(6)]
    outcomes += [_outcome(0.6, 500, None, 20.0), _outcome(0.7, 404, None, 5.0)]
    outcomes += [
        _outcome(0.8, None, "timeout", 1000.0),
        _outcome(0.9, None, "overflow", 400.0),
    ]
    result = summarize(
        outcomes, ok_statuses=None, rate_per_s=10, duration_s=1, elapsed_s=1.2
    )
    assert result["total"] == 10 and result["ok"] == 6 and result["failed"] == 4
    assert result["error_rate"] == 0.4
    assert result["statuses"] == {"200": 6, "404": 1, "500": 1}
    assert result["errors"]["timeout"] == 1 and result["errors"]["overflow"] == 1
    assert set(result["errors"]) == set(ERROR_KINDS)
    assert result["status"] == 200
    assert result["max_ms"] == 1000.0
    assert result["latency_ms"]["p99"] == result["p99_ms"] == 1000.0
    assert result["samples"][8] == [0.8, "timeout", 1000.0]
    assert result["samples"][0] == [0.0, 200, 10.0]
    # 9 of 10 requests left (the overflow did not) in the 1 s schedule.
    assert result["achieved_rate_per_s"] == 9.0
    json.dumps(result)  # JSON-friendly as it is


def test_ok_statuses_decide_what_counts_as_failed() -> None:
    outcomes = [_outcome(0, 404, None, 1.0), _outcome(0.1, 200, None, 1.0)]
    result = summarize(
        outcomes, ok_statuses=[404], rate_per_s=10, duration_s=0.2, elapsed_s=0.2
    )
    assert result["ok"] == 1 and result["error_rate"] == 0.5


def test_an_empty_measurement_has_zeros_never_none() -> None:
    result = summarize([], ok_statuses=None, rate_per_s=10, duration_s=1, elapsed_s=0)

    def walk(node: object) -> None:
        assert node is not None
        if isinstance(node, dict):
            for child in node.values():
                walk(child)

    walk(result)
    assert (
        result["total"] == 0 and result["error_rate"] == 0.0 and result["status"] == 0
    )


def test_achieved_rate_drops_when_the_sender_falls_behind() -> None:
    on_time = [Outcome(i / 10, i / 10, 200, None, 1.0) for i in range(10)]
    late = [Outcome(i / 10, i / 5, 200, None, 1.0) for i in range(10)]
    assert achieved_rate(on_time, 10) == pytest.approx(10.0)
    assert achieved_rate(late, 10) == pytest.approx(10 / 1.9, rel=1e-3)
    assert achieved_rate([], 10) == 0.0
    dropped = on_time[:2] + [
        Outcome(i / 10, None, None, "overflow", 1.0) for i in range(2, 10)
    ]
    assert achieved_rate(dropped, 10) == pytest.approx(2.0)


def test_a_lagging_sampler_warns_and_names_the_rate_it_sustains() -> None:
    from chaoslitmus.http.stats import send_lag_warning, sustainable_rate

    # 3000 requests, the send loop busy 4 s: half busy at 375 req/s.
    assert sustainable_rate(3000, 4.0) == 375.0
    assert sustainable_rate(0, 1.0) == 0.0 and sustainable_rate(10, None) == 0.0
    assert send_lag_warning(3.0, 3000, 375.0) is None
    warning = send_lag_warning(63.8, 3000, 375.0)
    assert "63.8 ms" in warning and "375 req/s" in warning and "\n" not in warning
    # A sender with time to spare: the machine stalled it, no rate to name.
    spare = send_lag_warning(40.0, 100, 5000.0)
    assert "stalls of the machine" in spare and "req/s;" not in spare


def test_body_errors_keep_their_status_but_are_not_ok() -> None:
    outcomes = [
        Outcome(0.0, 0.0, 200, None, 5.0),
        Outcome(0.1, 0.1, 200, "body", 5.0),
    ]
    result = summarize(
        outcomes, ok_statuses=None, rate_per_s=10, duration_s=0.2, elapsed_s=0.2
    )
    assert result["statuses"] == {"200": 2} and result["errors"]["body"] == 1
    assert result["ok"] == 1 and result["error_rate"] == 0.5
    assert [s[1] for s in result["samples"]] == [200, "body"]
    assert result["warnings"] == [] and result["sustainable_rate_per_s"] == 0.0
