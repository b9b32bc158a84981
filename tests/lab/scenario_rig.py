"""A lab, a fault and open-loop traffic: one scenario measured, for
test_scenarios.py (and for the figures quoted in the README).

The fault is started on the data plane directly (no Litmus engine) unless
a scenario needs Litmus' own target choice, so one measurement costs its
traffic window and little more.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from chaoslitmus.http.probes import measure_endpoint
from chaoslitmus.lab import Lab, LabOptions
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.mesh.actions import restore_retry_policy, set_retry_policy

NS = world.NAMESPACE
UNAVAILABLE = "Ratings service is currently unavailable"


def story_policy(per_try_ms: int) -> dict[str, Any]:
    """The story's policy (3 retries on server errors), per-try timeout scaled."""
    return {
        "max_retries": 3,
        "per_retry_timeout_ms": per_try_ms,
        "http_retry_events": ["server-error"],
    }


@dataclass
class Measured:
    result: dict[str, Any]
    served: dict[str, int]  # ratings requests each pod received in the window

    @property
    def error_rate(self) -> float:
        return float(self.result["error_rate"])

    def share_served_by(self, pods: list[str]) -> float:
        total = sum(self.served.values())
        return sum(self.served.get(p, 0) for p in pods) / total if total else 0.0


@contextmanager
def running_lab(monkeypatch: pytest.MonkeyPatch, **options: Any) -> Iterator[Lab]:
    lab = Lab(LabOptions(reviews_port=0, litmus_startup_s=0.1, **options))
    lab.start()
    try:
        for key, value in lab.env().items():
            monkeypatch.setenv(key, value)
        yield lab
    finally:
        lab.stop()


def mesh_args(lab: Lab) -> dict[str, str]:
    env = lab.env()
    return {
        "name": env["CHAOSLITMUS_MESH_OBJECT"],
        "namespace": NS,
        "mesh": env["CHAOSLITMUS_MESH"],
        "api_version": env["CHAOSLITMUS_MESH_API_VERSION"],
    }


@contextmanager
def retry_policy(lab: Lab, policy: dict[str, Any] | None) -> Iterator[None]:
    """The policy on the ratings route (None: leave the mesh default), restored."""
    if policy is None:
        yield
        return
    set_retry_policy(**mesh_args(lab), **policy)
    routes = lab.dataplane.route_table  # type: ignore[union-attr]
    deadline = time.monotonic() + 10
    while routes().routes[0].retry.num_retries != policy["max_retries"]:
        assert time.monotonic() < deadline, "the proxy never loaded the policy"
        time.sleep(0.02)
    try:
        yield
    finally:
        restore_retry_policy(**mesh_args(lab))


def ratings_pods(lab: Lab) -> list[str]:
    return sorted(lab.dataplane.ratings_ports())  # type: ignore[union-attr]


def measure(
    lab: Lab,
    *,
    slow: list[str],
    latency_ms: int,
    window_s: float,
    rate_per_s: float,
    policy: dict[str, Any] | None = None,
    warm_s: float = 0.5,
    **probe: Any,
) -> Measured:
    """Warm the mesh with traffic, slow `slow` down, measure, end the fault."""
    plane = lab.dataplane
    assert plane is not None
    with retry_policy(lab, policy):
        measure_endpoint(lab.reviews_url, duration_s=warm_s, rate_per_s=rate_per_s)
        before = dict(plane.served)
        plane.start_latency("scenario", NS, slow, latency_ms, 0)
        try:
            result = measure_endpoint(
                lab.reviews_url,
                duration_s=window_s,
                rate_per_s=rate_per_s,
                timeout_s=10,
                **probe,
            )
        finally:
            plane.stop("scenario")
        served = {pod: plane.served[pod] - before.get(pod, 0) for pod in plane.served}
    time.sleep(latency_ms / 1000 + 0.2)  # let late answers drain
    return Measured(result, served)
