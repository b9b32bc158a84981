"""measure_endpoint against a real server on 127.0.0.1: delays, faults, stalls.

Bounds are wide on purpose (a shared 2-core box): lower bounds come from what
the server is told to do (a 100 ms delay cannot answer in 50 ms), upper
bounds leave several times the expected figure.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
import requests
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.http.probes import http_latency_ms, http_status, measure_endpoint
from chaoslitmus.http.stats import percentile


def test_fixed_delay_is_measured_on_a_steady_schedule(fresh) -> None:
    result = measure_endpoint(fresh.url("/delay/100"), duration_s=1.5, rate_per_s=20)

    assert result["total"] == 30 and result["statuses"] == {"200": 30}
    assert result["status"] == 200 and result["error_rate"] == 0.0
    latencies = [sample[2] for sample in result["samples"]]
    assert min(latencies) >= 99.0
    assert 99.0 <= result["p50_ms"] <= 600.0
    assert result["p50_ms"] <= result["p90_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert [s[0] for s in result["samples"]] == pytest.approx(
        [i * 0.05 for i in range(30)]
    )
    assert 15.0 <= result["achieved_rate_per_s"] <= 20.5
    assert fresh.hits == 30
    # Keep-alive: ~2 requests are in flight at a time, so a few connections.
    assert len(fresh.peers) <= 10


def test_result_is_json_friendly_and_never_none(fresh) -> None:
    result = measure_endpoint(fresh.url("/ok"), duration_s=0.3, rate_per_s=10)
    assert json.loads(json.dumps(result)) == result
    for key in (
        "p50_ms",
        "p90_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "mean_ms",
        "error_rate",
    ):
        assert isinstance(result[key], float)
    assert result["started_at"].endswith("+00:00")
    assert result["percentile_method"] == "nearest-rank"


def test_server_errors_count_in_the_error_rate(fresh) -> None:
    result = measure_endpoint(
        fresh.url("/every/4/status/500"), duration_s=1, rate_per_s=20
    )
    assert result["statuses"] == {"200": 15, "500": 5}
    assert result["error_rate"] == 0.25 and result["status"] == 200
    strict = measure_endpoint(
        fresh.url("/status/404"), duration_s=0.2, rate_per_s=10, ok_statuses=[404]
    )
    assert strict["error_rate"] == 0.0 and strict["status"] == 404


def test_connection_resets_are_errors_without_a_status(fresh) -> None:
    result = measure_endpoint(fresh.url("/reset"), duration_s=0.5, rate_per_s=10)
    assert result["errors"]["reset"] == 5 and result["statuses"] == {}
    assert result["status"] == 0 and result["error_rate"] == 1.0
    assert {s[1] for s in result["samples"]} == {"reset"}
    assert "reset" in result["error_examples"]


def test_slow_bodies_count_until_the_last_byte(fresh) -> None:
    result = measure_endpoint(
        fresh.url("/slowbody/4/100"), duration_s=0.4, rate_per_s=10
    )
    assert result["statuses"] == {"200": 4}
    assert min(s[2] for s in result["samples"]) >= 395.0


def test_timeouts_give_up_on_time_and_count_the_time_waited(fresh) -> None:
    began = time.monotonic()
    result = measure_endpoint(
        fresh.url("/delay/3000"), duration_s=0.5, rate_per_s=10, timeout_s=0.3
    )
    assert time.monotonic() - began < 2.5  # did not wait for the 3 s answers
    assert result["errors"]["timeout"] == 5 and result["error_rate"] == 1.0
    assert all(290.0 <= s[2] <= 1500.0 for s in result["samples"])
    assert result["p99_ms"] >= 290.0


def test_refused_connections_are_connection_errors(closed_port: int) -> None:
    result = measure_endpoint(
        f"http://127.0.0.1:{closed_port}/", duration_s=0.3, rate_per_s=10
    )
    assert result["errors"]["connection"] == 3 and result["total"] == 3
    assert result["status"] == 0 and result["error_rate"] == 1.0


def test_method_headers_and_body_reach_the_server(fresh) -> None:
    measure_endpoint(
        fresh.url("/echo"),
        duration_s=0.2,
        rate_per_s=10,
        method="post",
        headers={"X-Chaos": "yes", "Content-Type": "application/json"},
        body='{"rating": 5}',
    )
    assert len(fresh.echoed) == 2
    seen = fresh.echoed[0]
    assert seen["method"] == "POST" and seen["body"] == '{"rating": 5}'
    assert seen["headers"]["X-Chaos"] == "yes"
    head = measure_endpoint(
        fresh.url("/ok"), duration_s=0.1, rate_per_s=10, method="HEAD"
    )
    assert head["statuses"] == {"200": 1}


def test_redirects_are_reported_not_followed(fresh) -> None:
    result = measure_endpoint(fresh.url("/redirect"), duration_s=0.3, rate_per_s=10)
    assert result["statuses"] == {"302": 3} and result["error_rate"] == 0.0
    assert fresh.hits == 3  # /ok was never asked for


def test_requests_beyond_the_in_flight_limit_overflow_with_their_wait(fresh) -> None:
    result = measure_endpoint(
        fresh.url("/delay/2000"),
        duration_s=0.5,
        rate_per_s=20,
        timeout_s=1,
        max_in_flight=2,
    )
    assert result["errors"]["timeout"] == 2 and result["errors"]["overflow"] == 8
    assert fresh.hits == 2  # overflowed requests were never sent
    # Slots come free when the first two time out, ~1 s after the start.
    for offset_s, kind, latency_ms in result["samples"][2:]:
        assert kind == "overflow"
        assert 1000 * (1 - offset_s) - 60 <= latency_ms <= 2500
    assert result["achieved_rate_per_s"] < 10
    assert "max_in_flight" in result["error_examples"]["overflow"]


def _closed_loop(url: str, seconds: float, into: list[float]) -> None:
    """Send, wait for the answer, send again: a loop that coordinates with
    the server (like `while true; do curl; done`)."""
    session = requests.Session()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.monotonic()
        session.get(url, timeout=10)
        into.append((time.monotonic() - began) * 1000)


def test_open_loop_p99_shows_a_stall_that_a_closed_loop_hides(fresh) -> None:
    requests.post(fresh.url("/admin/stall"), params={"after_s": 0.5, "seconds": 1.5})
    closed: list[float] = []
    loop = threading.Thread(
        target=_closed_loop, args=(fresh.url("/stall"), 3.0, closed)
    )
    loop.start()
    result = measure_endpoint(fresh.url("/stall"), duration_s=3, rate_per_s=20)
    loop.join()

    # Open loop: ~30 of 60 requests were due inside the stall, each waiting
    # until its end, so p90 and p99 are stall-sized.
    slow_open = sum(s[2] >= 500 for s in result["samples"]) / result["total"]
    assert slow_open >= 0.25
    assert result["p99_ms"] >= 1200 and result["p90_ms"] >= 700
    # Closed loop: one request sat through the stall, hundreds did not.
    assert len(closed) >= 100
    closed.sort()
    assert sum(v >= 500 for v in closed) <= 2
    assert percentile(closed, 99) < 500 <= result["p99_ms"]


def test_single_request_probes_return_status_and_latency(fresh) -> None:
    assert http_status(fresh.url("/status/503")) == 503
    assert http_status(fresh.url("/redirect")) == 302
    latency = http_latency_ms(fresh.url("/delay/200"))
    assert 199.0 <= latency <= 2000.0


def test_single_request_probes_explain_why_there_was_no_answer(
    fresh, closed_port: int
) -> None:
    with pytest.raises(ActivityFailed) as refused:
        http_status(f"http://127.0.0.1:{closed_port}/")
    assert "connection" in str(refused.value) and "listens" in str(refused.value)
    with pytest.raises(ActivityFailed) as late:
        http_latency_ms(fresh.url("/delay/2000"), timeout_s=0.2)
    assert "timeout_s=0.2" in str(late.value) and "\n" not in str(late.value)


def test_works_when_called_from_inside_a_running_event_loop(fresh) -> None:
    async def caller() -> dict:
        return measure_endpoint(fresh.url("/ok"), duration_s=0.2, rate_per_s=10)

    assert asyncio.run(caller())["statuses"] == {"200": 2}


UNAVAILABLE = "Ratings service is currently unavailable"


def test_body_checks_turn_degraded_200s_into_body_errors(fresh) -> None:
    blind = measure_endpoint(
        fresh.url("/every/4/degraded"), duration_s=1, rate_per_s=20
    )
    assert blind["statuses"] == {"200": 20} and blind["error_rate"] == 0.0

    fresh.reset_counters()
    aware = measure_endpoint(
        fresh.url("/every/4/degraded"),
        duration_s=1,
        rate_per_s=20,
        body_must_not_contain=UNAVAILABLE,
    )
    assert aware["statuses"] == {"200": 20}  # the status is still reported
    assert aware["errors"]["body"] == 5 and aware["error_rate"] == 0.25
    assert aware["failed"] == 5 and aware["ok"] == 15
    assert sum(s[1] == "body" for s in aware["samples"]) == 5
    example = aware["error_examples"]["body"]
    assert example.startswith("status 200, body holds") and UNAVAILABLE in example

    fresh.reset_counters()
    wanted = measure_endpoint(
        fresh.url("/every/4/degraded"),
        duration_s=0.5,
        rate_per_s=20,
        body_must_contain=["stars", "reviews"],
    )
    assert (
        wanted["errors"]["body"] == 2
        and "lacks 'stars'" in (wanted["error_examples"]["body"])
    )


def test_body_checks_leave_failed_statuses_as_they_are(fresh) -> None:
    result = measure_endpoint(
        fresh.url("/status/500"),
        duration_s=0.2,
        rate_per_s=10,
        body_must_contain="never there",
    )
    assert result["statuses"] == {"500": 2} and result["errors"]["body"] == 0
    assert result["error_rate"] == 1.0


def test_empty_body_checks_check_nothing_and_bad_ones_are_refused(fresh) -> None:
    result = measure_endpoint(
        fresh.url("/every/2/degraded"),
        duration_s=0.2,
        rate_per_s=10,
        body_must_not_contain="",
    )
    assert result["error_rate"] == 0.0
    with pytest.raises(ActivityFailed, match="body_must_contain"):
        measure_endpoint(fresh.url("/ok"), body_must_contain=5)
    assert fresh.hits == 2


def test_http_status_fails_on_a_degraded_body(fresh) -> None:
    fresh.every_counter = 1  # the next answer is the degraded one
    with pytest.raises(ActivityFailed) as degraded:
        http_status(fresh.url("/every/2/degraded"), body_must_not_contain=UNAVAILABLE)
    message = str(degraded.value)
    assert "status 200" in message and UNAVAILABLE in message and "\n" not in message
    assert http_status(fresh.url("/every/2/degraded"), body_must_contain="stars") == 200


def test_latency_runs_from_the_due_time_and_includes_the_send_lag(fresh) -> None:
    from chaoslitmus.http._client import run_in_private_loop, sample
    from chaoslitmus.http._plan import plan_measurement
    from chaoslitmus.http._schedule import arrival_offsets

    plan = plan_measurement(fresh.url("/delay/20"), duration_s=0.5, rate_per_s=400)
    offsets = arrival_offsets(plan.rate_per_s, plan.duration_s)
    sampled = run_in_private_loop(lambda: sample(plan, offsets))
    assert len(sampled.outcomes) == 200 and sampled.sampler_busy_s > 0
    for o in sampled.outcomes:
        lag_ms = max(0.0, (o.sent_offset_s - o.offset_s) * 1000.0)
        # What callers see: the time spent before leaving plus the answer.
        assert o.latency_ms >= lag_ms + 19.0


def test_send_lag_is_reported_with_its_percentiles(fresh) -> None:
    result = measure_endpoint(fresh.url("/ok"), duration_s=0.5, rate_per_s=40)
    lag = result["send_lag_ms"]
    assert set(lag) == {"p50", "p99", "max"}
    # Requests may leave up to 1 ms early (an epoll wake-up is rounded up).
    assert -1.5 <= lag["p50"] <= lag["p99"] <= lag["max"]
    assert result["sustainable_rate_per_s"] > 0
    if lag["p99"] <= 10.0:
        assert result["warnings"] == []
