"""The data-plane models on their own: balancers, discovery and pooled
connections, netem's reach, reviews' degraded answer, and the options that
pick them."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import aiohttp
import pytest
from aiohttp import web

from chaoslitmus.lab.bookinfo.apps import LatencyFaults, ratings_app, reviews_app
from chaoslitmus.lab.mesh.balancers import least_request_pick, pick_with_predicate
from chaoslitmus.lab.mesh.discovery import (
    CLUSTER_IP_HOST,
    ConnectionPool,
    envoy_hosts,
)
from chaoslitmus.lab.mesh.netem import Peer, destinations, sample_delay_ms
from chaoslitmus.lab.mesh.upstreams import Upstreams
from chaoslitmus.lab.options import LabError, LabOptions
from chaoslitmus.lab.ports import bind_loopback

NS = "bookinfo"
PODS = ["ratings-v1-a", "ratings-v1-b"]


# ----------------------------------------------------------------- balancers


def test_least_request_keeps_the_less_busy_of_two_draws() -> None:
    rng = random.Random(5)
    busy = {"slow": 4, "fast": 0}
    picks = Counter(least_request_pick(["slow", "fast"], busy, rng) for _ in range(400))
    # Both drawn "slow" only a quarter of the time: then it must be kept.
    assert 60 <= picks["slow"] <= 140 and picks["fast"] >= 260
    even = Counter(least_request_pick(["a", "b"], {}, rng) for _ in range(400))
    assert 150 <= even["a"] <= 250  # no load: a fair coin


def test_least_request_is_reproducible_with_a_seed() -> None:
    def run() -> list[str]:
        rng = random.Random(9)
        return [least_request_pick(["a", "b", "c"], {"a": 1}, rng) for _ in range(50)]

    assert run() == run()


def test_the_predicate_re_picks_tried_hosts_then_gives_up() -> None:
    picks = iter(["a", "a", "b"])
    assert pick_with_predicate(lambda: next(picks), ["a"], True, 5) == "b"
    assert pick_with_predicate(lambda: "a", ["a"], True, 3) == "a"
    assert pick_with_predicate(lambda: "a", ["a"], False, 3) == "a"


# -------------------------------------------------------- discovery and pool


def test_dns_discovery_shows_envoy_one_host() -> None:
    assert envoy_hosts("dns", PODS) == [CLUSTER_IP_HOST]
    assert envoy_hosts("dns", []) == []
    assert envoy_hosts("endpoints", PODS) == PODS


def test_kube_proxy_draws_a_pod_per_new_connection() -> None:
    pool = ConnectionPool(random.Random(3))
    drawn = Counter(pool.open(CLUSTER_IP_HOST, PODS).pod for _ in range(400))
    assert set(drawn) == set(PODS) and 150 <= drawn[PODS[0]] <= 250
    assert pool.open(PODS[1], PODS).pod == PODS[1]  # endpoints: its own pod


def test_the_pool_reuses_the_most_recent_idle_connection_of_a_live_pod() -> None:
    pool = ConnectionPool(random.Random(3))
    first, second = pool.open("h", ["p1"]), pool.open("h", ["p2"])
    pool.release(first)
    pool.release(second)
    assert pool.take_idle("h", ["p1", "p2"]).number == second.number
    assert pool.take_idle("h", ["p2"]) is None  # p1's server is gone
    assert pool.take_idle("h", ["p1", "p2"]) is None


def test_max_requests_per_connection_closes_used_connections() -> None:
    once = ConnectionPool(random.Random(1), max_requests_per_connection=1)
    connection = once.open("h", ["p"])
    once.release(connection)
    assert once.idle_count("h") == 0
    once.release(connection, served=0)  # set up for a request that went away
    assert once.idle_count("h") == 1


def test_a_new_connection_pays_both_directions_once_a_pooled_one_nothing() -> None:
    faults = LatencyFaults(random.Random(1))
    faults.start("callee", NS, ["ratings-v1-a"], 300, 0)
    faults.start("caller", NS, ["reviews-v3-x"], 200, 0)
    upstreams = Upstreams(
        random.Random(2),
        namespace=NS,
        caller=lambda: ("reviews", "reviews-v3-x"),
        delay_ms=faults.delay_ms,
    )
    connection, set_up_ms = upstreams.connection("ratings-v1-a", PODS)
    assert set_up_ms == 500  # the caller's SYN and the callee's SYN-ACK
    assert upstreams.outbound_ms("ratings-v1-a") == 200
    upstreams.pool.release(connection)
    assert upstreams.connection("ratings-v1-a", PODS) == (
        connection.__class__(connection.number, connection.host, connection.pod, 1),
        0.0,
    )
    off = Upstreams(
        random.Random(2), delay_ms=faults.delay_ms, delay_connection_setup=False
    )
    assert off.connection("ratings-v1-a", PODS)[1] == 0.0


# --------------------------------------------------------------------- netem


def test_destination_filters_reach_only_the_named_peers() -> None:
    reviews = Peer.pod("reviews-v3-x", "reviews", NS, "10.0.0.7")
    other = Peer.pod("productpage-1", "productpage", NS, "10.0.1.9")
    everyone = destinations("", "")
    assert (
        everyone.everyone and everyone.reach(reviews) and everyone.reach(Peer.outside())
    )
    by_name = destinations("reviews.bookinfo.svc.cluster.local", "")
    assert by_name.reach(reviews) and not by_name.reach(other)
    assert not by_name.reach(Peer.outside())
    by_cidr = destinations("", "10.0.0.0/24, 192.168.0.1")
    assert by_cidr.reach(reviews) and not by_cidr.reach(other)
    assert destinations(["reviews-v3-x"], None).reach(reviews)


def test_jitter_is_uniform_around_the_latency_and_never_negative() -> None:
    rng = random.Random(4)
    samples = [sample_delay_ms(100, 50, rng) for _ in range(2000)]
    assert 50 <= min(samples) < 55 and 145 < max(samples) <= 150
    assert 95 <= sum(samples) / len(samples) <= 105
    assert min(sample_delay_ms(10, 50, rng) for _ in range(200)) == 0.0
    assert sample_delay_ms(70, 0, rng) == 70.0


def test_a_filtered_fault_delays_only_packets_to_its_destinations() -> None:
    faults = LatencyFaults(random.Random(1))
    faults.start("f", NS, ["ratings-v1-a"], 300, 0, destinations("reviews", ""))
    reviews = Peer.pod("reviews-v3-x", "reviews", NS)
    assert faults.delay_ms(NS, "ratings-v1-a", reviews) == 300
    assert faults.delay_ms(NS, "ratings-v1-a", None) == 0.0  # the probe, outside
    assert faults.delay_ms(NS, "ratings-v1-b", reviews) == 0.0
    assert faults.active()["f"]["destination_hosts"] == ["reviews"]


# ------------------------------------------------------------------- reviews


async def _reviews_answer(on_error: str) -> tuple[int, dict]:
    """reviews in front of a ratings that is later than reviews' timeout."""
    faults = LatencyFaults(random.Random(1))
    faults.start("f", NS, ["ratings-v1-a"], 400, 0)
    runners = []
    try:
        ports = []
        for app in (
            ratings_app(NS, "ratings-v1-a", faults, Counter()),
            None,
        ):
            sock = bind_loopback(0)
            if app is None:
                app = reviews_app(
                    NS,
                    lambda: "reviews-v3-x",
                    faults,
                    f"http://127.0.0.1:{ports[0]}",
                    100,
                    on_error,
                )
            runner = web.AppRunner(app, shutdown_timeout=0.1)
            await runner.setup()
            await web.SockSite(runner, sock).start()
            runners.append(runner)
            ports.append(sock.getsockname()[1])
        url = f"http://127.0.0.1:{ports[1]}/reviews/0"
        async with aiohttp.ClientSession() as session, session.get(url) as got:
            return got.status, await got.json()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


def test_reviews_answers_500_or_a_degraded_200_as_configured() -> None:
    status, body = asyncio.run(_reviews_answer("500"))
    assert status == 500 and "did not answer within 100 ms" in body["error"]
    status, body = asyncio.run(_reviews_answer("degraded"))
    assert status == 200
    assert [r["rating"] for r in body["reviews"]] == [
        {"error": "Ratings service is currently unavailable"}
    ] * 2


# ------------------------------------------------------------------- options


def test_the_options_name_the_model_they_run() -> None:
    story = LabOptions()
    assert story.discovery == "endpoints" and story.balancer == "round-robin"
    assert "every ratings pod is an Envoy host" in story.data_plane_model()
    assert "not connection set-ups" in story.data_plane_model()
    istio = LabOptions(mesh="istio", appmesh_discovery="dns")
    assert istio.discovery == "endpoints" and istio.balancer == "least-request"
    dns = LabOptions(appmesh_discovery="dns", max_requests_per_connection=1)
    assert "one upstream host" in dns.data_plane_model()
    assert "1 request(s) per connection" in dns.data_plane_model()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"appmesh_discovery": "cloudmap"}, "App Mesh discovery"),
        ({"istio_lb": "random"}, "Istio load balancer"),
        ({"reviews_on_ratings_error": "503"}, "answer to a ratings error"),
        ({"max_requests_per_connection": -1}, "max requests per connection"),
    ],
)
def test_bad_model_options_are_one_line(kwargs: dict, words: str) -> None:
    with pytest.raises(LabError, match=words):
        LabOptions(**kwargs)


def test_lab_run_says_which_data_plane_model_runs() -> None:
    import sys

    from tests.lab.test_cli import FAST, run_cli  # noqa: PLC0415

    done = run_cli(
        "lab",
        "run",
        *FAST,
        "--appmesh-discovery",
        "dns",
        "--reviews-on-ratings-error",
        "degraded",
        "--seed",
        "4",
        "--",
        sys.executable,
        "-c",
        "import os; print(os.environ['REVIEWS_DEGRADED_MARKER'])",
    )
    assert done.returncode == 0, done.stderr
    assert "Ratings service is currently unavailable" in done.stdout
    assert "DNS discovery: one upstream host" in done.stderr
    assert "reviews answers degraded when ratings fails" in done.stderr
