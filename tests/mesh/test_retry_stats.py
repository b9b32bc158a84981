"""Did the retries happen? Envoy's retry counters of the reviews sidecar,
read through the lab API's pods/proxy subresource while one ratings pod is
slow, with and without the story's retry policy."""

from __future__ import annotations

import threading

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.http.probes import measure_endpoint
from chaoslitmus.lab import Lab, LabOptions
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.litmus import actions as litmus
from chaoslitmus.mesh import actions as mesh
from chaoslitmus.mesh.probes import retry_stats, retry_stats_during

NS = world.NAMESPACE
CALLERS = "app=reviews"
WINDOW_S = 4


@pytest.fixture(scope="module")
def lab():
    options = LabOptions(
        reviews_port=0, litmus_startup_s=0.2, litmus_inject_delay_s=0.2, seed=13
    )
    with Lab(options) as lab:
        yield lab


@pytest.fixture
def env(lab, monkeypatch):
    for key, value in lab.env().items():
        monkeypatch.setenv(key, value)
    return lab.env()


def traffic_and_stats(env: dict) -> tuple[dict, dict]:
    """Traffic to reviews and the retry counters over the same window."""
    measured: dict = {}

    def load() -> None:
        measured.update(
            measure_endpoint(
                env["REVIEWS_URL"], duration_s=WINDOW_S - 0.5, rate_per_s=5
            )
        )

    thread = threading.Thread(target=load)
    thread.start()
    stats = retry_stats_during(WINDOW_S, NS, CALLERS, "ratings")
    thread.join(30)
    return measured, stats


def slow_one_ratings_pod(engine: str) -> list[str]:
    litmus.inject_network_latency(
        app_namespace=NS,
        app_label="app=ratings",
        latency_ms=3000,
        duration_s=WINDOW_S + 6,
        engine_name=engine,
        wait=False,
    )
    return litmus.wait_for_chaos_started(engine, NS, timeout_s=30)["targets"]


def test_the_counters_are_served_like_envoy(env):
    stats = retry_stats(NS, CALLERS, "ratings")
    assert len(stats["pods"]) == 1 and stats["pods"][0].startswith("reviews-")
    assert stats["clusters"] and all("ratings" in c for c in stats["clusters"])
    assert stats["source"] == "pods/proxy :9901/stats/prometheus"
    for counter in ("upstream_rq_total", "upstream_rq_retry", "upstream_rq_5xx"):
        assert isinstance(stats[counter], int)


def test_with_the_policy_retries_rescue_the_slow_pod(env):
    policy = mesh.set_retry_policy(
        name=env["CHAOSLITMUS_MESH_OBJECT"],
        namespace=NS,
        mesh="appmesh",
        max_retries=3,
        per_retry_timeout_ms=2000,
        http_retry_events=["server-error"],
    )
    assert policy["changed"]
    mesh.wait_for_retry_policy_applied(
        name=env["CHAOSLITMUS_MESH_OBJECT"], namespace=NS, timeout_s=30
    )
    try:
        slow = slow_one_ratings_pod("stats-retry")
        assert len(slow) == 1
        measured, stats = traffic_and_stats(env)
    finally:
        litmus.delete_engine("stats-retry", NS, timeout_s=30)
        mesh.restore_retry_policy(
            name=env["CHAOSLITMUS_MESH_OBJECT"], namespace=NS, mesh="appmesh"
        )
        mesh.wait_for_retry_policy_applied(
            name=env["CHAOSLITMUS_MESH_OBJECT"], namespace=NS, timeout_s=30
        )
    assert measured["error_rate"] == 0, measured["statuses"]
    # Each request that met the slow pod timed out once (2 s) and was retried
    # on the other pod, which answered: retries happened and rescued them.
    assert stats["upstream_rq_retry"] > 0, stats
    assert stats["upstream_rq_per_try_timeout"] == stats["upstream_rq_retry"]
    # A retry still in flight when the window closes is not rescued yet.
    assert stats["upstream_rq_retry"] - 2 <= stats["rescued"]
    assert stats["rescued"] <= stats["upstream_rq_retry"]
    assert 1 < stats["attempts_per_request"] < 2
    assert stats["requests"] >= stats["rescued"]


def test_without_a_policy_nothing_is_retried(env):
    slow_one_ratings_pod("stats-plain")
    try:
        measured, stats = traffic_and_stats(env)
    finally:
        litmus.delete_engine("stats-plain", NS, timeout_s=30)
    assert measured["statuses"].get("500", 0) > 0  # callers were hurt
    assert stats["upstream_rq_retry"] == 0
    assert stats["upstream_rq_per_try_timeout"] == 0
    assert stats["rescued"] == 0
    assert stats["attempts_per_request"] == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mesh": "consul"}, "unknown mesh 'consul'"),
        ({"caller_label": "app=nobody"}, "no running caller pods match 'app=nobody'"),
        ({"port": 1234}, "nothing answers on reviews-.*:1234"),
        ({"upstream": "details"}, "no upstream cluster matching 'details'"),
        ({"path": "stats/json"}, "not found .*check path="),
    ],
)
def test_bad_input_gives_one_clear_line(env, kwargs, message):
    args = {"namespace": NS, "caller_label": CALLERS, "upstream": "ratings", **kwargs}
    with pytest.raises(ActivityFailed, match=message) as failed:
        retry_stats(**args)
    assert "\n" not in str(failed.value)
