"""netem in a running lab: Litmus' DESTINATION_HOSTS reach the data plane,
and a fault on the caller delays its outbound calls."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator

import pytest

from chaoslitmus.lab import Lab, LabOptions
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.litmus.actions import (
    delete_engine,
    inject_network_latency,
    wait_for_chaos_started,
)

NS = world.NAMESPACE


@pytest.fixture
def lab(monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    with Lab(LabOptions(reviews_port=0, litmus_startup_s=0.1, seed=5)) as running:
        for key, value in running.env().items():
            monkeypatch.setenv(key, value)
        yield running


def seconds(url: str) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()
    return time.monotonic() - started


def test_destination_hosts_limit_the_delay_to_those_peers(lab: Lab) -> None:
    assert lab.dataplane is not None
    launched = inject_network_latency(
        NS,
        "app=ratings",
        latency_ms=400,
        duration_s=60,
        pods_affected_perc=100,
        destination_hosts=["reviews"],
        wait=False,
    )
    try:
        wait_for_chaos_started(launched["engine_name"], NS, timeout_s=30)
        (fault,) = lab.dataplane.faults.active().values()
        assert fault["destination_hosts"] == ["reviews"]
        # Through reviews' sidecar the answers go to reviews: delayed.
        assert seconds(lab.ratings_url) >= 0.39
        # Straight from outside the cluster: not a listed peer, not delayed.
        port = next(iter(lab.dataplane.ratings_ports().values()))
        assert seconds(f"http://127.0.0.1:{port}/ratings/0") < 0.3
    finally:
        delete_engine(launched["engine_name"], NS)


def test_a_fault_on_the_caller_delays_its_outbound_calls(lab: Lab) -> None:
    assert lab.dataplane is not None
    reviews = lab.dataplane.reviews_pod
    assert reviews
    # Only packets to ratings: reviews' answers to the probe are not delayed.
    lab.dataplane.start_latency("caller", NS, [reviews], 400, 0, "ratings")
    try:
        assert seconds(lab.ratings_url) >= 0.39  # the sidecar's request to ratings
        assert seconds(lab.reviews_url) >= 0.39
    finally:
        lab.dataplane.stop("caller")
    assert seconds(lab.reviews_url) < 0.3
