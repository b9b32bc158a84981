"""measure_endpoint inside real Chaos Toolkit runs: as a background probe that
records a fault window, and in the steady-state hypothesis with tolerances."""

from __future__ import annotations

import json
from copy import deepcopy

from chaoslib.discovery import discover_probes
from chaoslib.experiment import run_experiment
from chaoslib.types import Strategy


def _measure(url: str, **arguments: object) -> dict:
    return {
        "type": "python",
        "module": "chaoslitmus.http.probes",
        "func": "measure_endpoint",
        "arguments": {"url": url, **arguments},
    }


def _tolerance(func: str, **arguments: object) -> dict:
    return {
        "type": "probe",
        "name": func,
        "provider": {
            "type": "python",
            "module": "chaoslitmus.http.tolerances",
            "func": func,
            "arguments": arguments,
        },
    }


def _experiment(base: str, stall_s: float, background: bool) -> dict:
    steady = {"duration_s": 0.5, "rate_per_s": 20, "timeout_s": 1}
    method: list[dict] = [
        {
            "type": "action",
            "name": "stall-the-service",
            "provider": {
                "type": "http",
                "url": f"{base}/admin/stall?after_s=0&seconds={stall_s}",
                "method": "POST",
                "timeout": 5,
            },
            "pauses": {"before": 0.5 if background else 0},
        }
    ]
    if background:
        method.insert(
            0,
            {
                "type": "probe",
                "name": "record-fault-window",
                "background": True,
                "provider": _measure(f"{base}/stall", duration_s=2.5, rate_per_s=20),
            },
        )
    return {
        "title": "callers of /stall get fast 200s",
        "description": "measure_endpoint as hypothesis probe and background recorder",
        "steady-state-hypothesis": {
            "title": "few errors, fast answers, mostly 200",
            "probes": [
                {
                    "type": "probe",
                    "name": "few-errors",
                    "tolerance": _tolerance("error_rate_at_most", max_ratio=0.05),
                    "provider": _measure(f"{base}/stall", **steady),
                },
                {
                    "type": "probe",
                    "name": "p90-under-500ms",
                    "tolerance": _tolerance(
                        "latency_at_most", percentile=90, max_ms=500
                    ),
                    "provider": _measure(f"{base}/stall", **steady),
                },
                {
                    "type": "probe",
                    "name": "mostly-200",
                    "tolerance": 200,
                    "provider": _measure(f"{base}/stall", **steady),
                },
                {
                    "type": "probe",
                    "name": "p99-in-range",
                    "tolerance": {
                        "type": "range",
                        "range": [0, 500],
                        "target": "p99_ms",
                    },
                    "provider": _measure(f"{base}/stall", **steady),
                },
            ],
        },
        "method": method,
        "rollbacks": [],
    }


def test_background_probe_records_the_whole_fault_window(fresh) -> None:
    experiment = _experiment(fresh.base, stall_s=1.0, background=True)
    journal = run_experiment(deepcopy(experiment), strategy=Strategy.DEFAULT)

    assert journal["status"] == "completed" and journal["deviated"] is False
    for phase in ("before", "after"):
        state = journal["steady_states"][phase]
        assert state["steady_state_met"] is True
        assert [p["tolerance_met"] for p in state["probes"]] == [True] * 4
    recorder = next(
        r for r in journal["run"] if r["activity"]["name"] == "record-fault-window"
    )
    assert recorder["status"] == "succeeded"
    window = recorder["output"]
    assert window["total"] == 50 and window["statuses"] == {"200": 50}
    # The stall began ~0.5 s in and lasted 1 s: requests due then waited it out.
    assert window["max_ms"] >= 600 and window["p90_ms"] >= 300
    slow = [s for s in window["samples"] if s[2] >= 300]
    assert slow and 0.3 <= slow[0][0] <= 1.6
    json.dumps(journal, default=str)


def test_hypothesis_deviates_while_the_service_stalls(fresh) -> None:
    experiment = _experiment(fresh.base, stall_s=2.0, background=False)
    journal = run_experiment(deepcopy(experiment), strategy=Strategy.DEFAULT)

    assert journal["steady_states"]["before"]["steady_state_met"] is True
    after = journal["steady_states"]["after"]
    assert journal["deviated"] is True and after["steady_state_met"] is False
    # The hypothesis stops at its first failing probe: errors, since requests
    # time out (1 s) inside a 2 s stall.
    failed = after["probes"][-1]
    assert (
        failed["activity"]["name"] == "few-errors" and failed["tolerance_met"] is False
    )
    assert failed["output"]["errors"]["timeout"] >= 5


def test_probes_and_tolerances_are_discoverable() -> None:
    probes = {a["name"]: a for a in discover_probes("chaoslitmus.http.probes")}
    assert set(probes) == {
        "measure_endpoint",
        "http_status",
        "http_latency_ms",
        "wait_for_recovery",
    }
    recovery = {a["name"]: a for a in probes["wait_for_recovery"]["arguments"]}
    assert recovery["within_s"]["default"] == 60
    assert recovery["window_s"]["default"] == 5
    arguments = {a["name"]: a for a in probes["measure_endpoint"]["arguments"]}
    assert arguments["rate_per_s"]["default"] == 10
    assert arguments["url"]["type"] == "string"
    assert "fixed rate" in probes["measure_endpoint"]["doc"]
    tolerances = {a["name"] for a in discover_probes("chaoslitmus.http.tolerances")}
    assert tolerances == {
        "error_rate_at_most",
        "latency_at_most",
        "status_codes_within",
        "within_slo",
    }
