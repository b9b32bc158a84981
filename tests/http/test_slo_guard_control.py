"""The SLO guard control inside a real chaoslib run, against a local HTTP
server: a breach interrupts the run (InterruptExecution semantics), cuts the
traffic window in progress short, lets the rollbacks run in full, and leaves
its record in the journal. An unreachable URL or a bad limit stops the run
before the method."""

from __future__ import annotations

import json
import re
import time

import pytest
from chaoslib.exceptions import InvalidControl
from chaoslib.experiment import ensure_experiment_is_valid, run_experiment

from chaoslitmus.controls import slo_guard
from chaoslitmus.http import _cutoff

SETTINGS = {"runtime": {"rollbacks": {"strategy": "always"}}}


def measure(name: str, url: str, duration_s: float, background: bool = False):
    return {
        "type": "probe",
        "name": name,
        "background": background,
        "provider": {
            "type": "python",
            "module": "chaoslitmus.http.probes",
            "func": "measure_endpoint",
            "arguments": {"url": url, "duration_s": duration_s, "rate_per_s": 5},
        },
    }


def experiment(guard_url: str, abort_when: dict, traffic_url: str) -> dict:
    return {
        "title": "guarded",
        "description": "the guard on a faulty server",
        "controls": [
            {
                "name": "slo-guard",
                "provider": {
                    "type": "python",
                    "module": "chaoslitmus.controls.slo_guard",
                    "arguments": {
                        "url": guard_url,
                        "abort_when": abort_when,
                        "rate_per_s": 10,
                    },
                },
            }
        ],
        "method": [measure("traffic-during-fault", traffic_url, 20, background=True)],
        "rollbacks": [measure("traffic-in-rollbacks", traffic_url, 0.6)],
    }


def run(exp: dict) -> dict:
    return run_experiment(exp, settings=dict(SETTINGS))


def test_a_breach_interrupts_cuts_traffic_short_and_rolls_back(fresh):
    exp = experiment(
        fresh.url("/every/2/status/500"),
        {"error_ratio_above": 0.3, "window_s": 1, "min_requests": 4},
        fresh.url("/ok"),
    )
    began = time.monotonic()
    journal = run(exp)
    took_s = time.monotonic() - began

    assert journal["status"] == "interrupted"
    guard = journal["slo_guard"]
    assert guard["status"] == "breached" and guard["interrupted"] is True
    # every other request fails: 2 of 4, or 3 of 5 when a slow judge saw one more
    assert re.match(
        r"error ratio 0\.[56]\d* > 0\.3 over the", guard["breach"]["reasons"][0]
    )
    assert guard["breach"]["window"]["statuses"]["500"] >= 2
    assert guard["breach"]["engines"] == []  # nothing was launched
    assert "no ChaosEngine to stop" in guard["message"]
    during = journal["run"][0]
    assert during["output"]["cut_short"] is True
    assert during["output"]["elapsed_s"] < 10  # of a 20 s window
    assert took_s < 15
    rollback = journal["rollbacks"][0]
    assert rollback["status"] == "succeeded"
    assert "cut_short" not in rollback["output"]
    assert rollback["output"]["total"] == 3
    assert not _cutoff.is_cut()


def test_a_latency_limit_counts_requests_still_waiting(fresh):
    exp = experiment(
        fresh.url("/delay/1500"),
        {"latency_ms_above": 500, "percentile": 90, "window_s": 2},
        fresh.url("/ok"),
    )
    journal = run(exp)

    guard = journal["slo_guard"]
    assert guard["status"] == "breached", guard
    # The breach is known before any slow answer arrives (1.5 s): the waits
    # of requests in flight already exceed the limit.
    assert guard["breach"]["window"]["requests"] == 0
    assert guard["breach"]["window"]["waiting_over_limit"] >= 10
    assert "still waiting past the limit" in guard["breach"]["reasons"][0]


def test_silent_when_the_limit_holds(fresh):
    exp = experiment(
        fresh.url("/ok"), {"error_ratio_above": 0.1, "window_s": 1}, fresh.url("/ok")
    )
    exp["method"] = [measure("short", fresh.url("/ok"), 1.5)]
    journal = run(exp)

    assert journal["status"] == "completed"
    guard = journal["slo_guard"]
    assert guard["status"] == "silent" and guard["requests"] >= 10
    assert guard["worst_window"]["error_ratio"] == 0


def test_an_unreachable_url_stops_the_run_before_the_method(fresh, closed_port):
    exp = experiment(
        f"http://127.0.0.1:{closed_port}/",
        {"error_ratio_above": 0.5},
        fresh.url("/ok"),
    )
    journal = run(exp)

    assert journal["status"] == "interrupted"
    assert journal["run"] == []  # no method activity ran
    guard = journal["slo_guard"]
    assert guard["status"] == "unreachable"
    assert guard["message"].startswith(
        f"slo-guard: cannot reach GET http://127.0.0.1:{closed_port}/ (connection: "
    )
    assert guard["message"].endswith("the method (and its fault) did not start")


@pytest.mark.parametrize(
    "abort_when, says",
    [
        ({}, "abort_when needs error_ratio_above and/or latency_ms_above"),
        ({"error_ratio_above": 1.5}, "error_ratio_above must be >= 0 and < 1"),
        ({"error_ratio": 0.5}, "unknown key(s) error_ratio"),
        ({"latency_ms_above": 100, "percentile": 0}, "percentile must be a whole"),
        ({"error_ratio_above": 0.5, "window_s": -1}, "window_s must be > 0"),
    ],
)
def test_bad_limits_are_refused_by_validation_and_at_run_time(fresh, abort_when, says):
    exp = experiment(fresh.url("/ok"), abort_when, fresh.url("/ok"))
    with pytest.raises(InvalidControl, match=None) as refused:
        ensure_experiment_is_valid(exp)
    assert says in str(refused.value)

    journal = run(exp)
    assert journal["status"] == "interrupted"
    assert journal["steady_states"]["before"] is None and journal["run"] == []
    assert journal["slo_guard"]["status"] == "misconfigured"
    assert says in journal["slo_guard"]["message"]


def test_validation_skips_placeholders():
    control = {
        "name": "slo-guard",
        "provider": {
            "arguments": {
                "url": "${reviews_url}",
                "abort_when": {"error_ratio_above": 0.5, "window_s": 5},
            }
        },
    }
    slo_guard.validate_control(control)
    control["provider"]["arguments"]["abort_when"]["window_s"] = 0
    with pytest.raises(InvalidControl, match="window_s must be > 0"):
        slo_guard.validate_control(control)


def test_the_journal_never_shows_a_password_of_the_url(fresh, closed_port):
    exp = experiment(
        f"http://me:s3cret@127.0.0.1:{closed_port}/",
        {"error_ratio_above": 0.5},
        fresh.url("/ok"),
    )
    journal = run(exp)

    guard = journal["slo_guard"]
    assert guard["status"] == "unreachable"
    assert "s3cret" not in json.dumps(guard)
    assert guard["url"] == f"http://***@127.0.0.1:{closed_port}/"
