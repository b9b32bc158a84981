"""What the data-plane models change, measured: each scenario runs the
story's shape at a smaller scale so a fault lasts seconds.

Scale: reviews gives up on ratings after 1000 ms, the slow pod's egress is
delayed 1500 ms, the story's policy has 3 retries with a 600 ms per-try
timeout (so one retry fits in reviews' budget, as 2000 ms fits in 2500 ms
in the story). Traffic is 20 req/s for 2.5 s (50 requests; a binomial
share near one half has a standard deviation of about 7 %, so bands are
three of those wide or more). Every lab is seeded. The figures measured
when these bounds were set are in docs/mesh-behaviour.md.
"""

from __future__ import annotations

from scenario_rig import (
    UNAVAILABLE,
    Measured,
    measure,
    ratings_pods,
    running_lab,
    story_policy,
)

from chaoslitmus.lab.bookinfo import world
from chaoslitmus.litmus.actions import (
    delete_engine,
    inject_network_latency,
    wait_for_chaos_started,
)
from chaoslitmus.litmus.probes import retry_headroom

NS = world.NAMESPACE
SCALE = {"reviews_timeout_ms": 1000}
LATENCY_MS = 1500
PER_TRY_MS = 600
RATE = 20
WINDOW_S = 2.5


def with_and_without_retries(lab, slow, **probe) -> tuple[Measured, Measured]:  # noqa: ANN001
    common = dict(latency_ms=LATENCY_MS, window_s=WINDOW_S, rate_per_s=RATE)
    bare = measure(lab, slow=slow, **common, **probe)
    retried = measure(
        lab, slow=slow, policy=story_policy(PER_TRY_MS), **common, **probe
    )
    return bare, retried


def rescued(bare: Measured, retried: Measured) -> float:
    """Share of the failures without retries that retries turned into 200s."""
    assert bare.error_rate > 0
    return 1 - retried.error_rate / bare.error_rate


def test_a_dns_discovery_retry_can_land_on_the_slow_pod_again(monkeypatch) -> None:  # noqa: ANN001
    # Without keep-alive every try opens a connection and kube-proxy draws a
    # pod for it: a retry reaches the slow pod again about half the time.
    # The endpoints model never sends a retry back (previous_hosts).
    no_keepalive = {**SCALE, "max_requests_per_connection": 1, "seed": 11}
    with running_lab(monkeypatch, appmesh_discovery="dns", **no_keepalive) as lab:
        slow = ratings_pods(lab)[:1]
        dns_bare, dns_retried = with_and_without_retries(lab, slow)
        stats = dict(lab.dataplane.proxy.stats)
    with running_lab(monkeypatch, **no_keepalive) as lab:
        slow = ratings_pods(lab)[:1]
        ep_bare, ep_retried = with_and_without_retries(lab, slow)

    assert 0.25 <= dns_bare.error_rate <= 0.75
    assert 0.04 <= dns_retried.error_rate <= 0.45  # some still fail
    assert stats["retries_to_a_tried_host"] > 0
    assert 0.25 <= ep_bare.error_rate <= 0.75 and ep_retried.error_rate == 0.0
    assert rescued(dns_bare, dns_retried) <= 0.85 < rescued(ep_bare, ep_retried)


def test_b_dns_discovery_with_keep_alive_pins_traffic_to_pooled_pods(
    monkeypatch,  # noqa: ANN001
) -> None:
    # Envoy's default pool reuses one connection at this rate: the pod it
    # reached takes (nearly) every request, whatever the balancer.
    with running_lab(monkeypatch, appmesh_discovery="dns", seed=11, **SCALE) as lab:
        pods = ratings_pods(lab)
        m = measure(
            lab,
            slow=pods[:1],
            latency_ms=LATENCY_MS,
            window_s=WINDOW_S,
            rate_per_s=RATE,
        )
        opened = lab.dataplane.proxy.upstreams.pool.opened
    assert max(m.share_served_by([p]) for p in pods) >= 0.9
    assert opened <= 5


def test_c_istio_least_request_sends_the_slow_pod_fewer_requests(monkeypatch) -> None:  # noqa: ANN001
    shares = {}
    for balancer in ("least-request", "round-robin"):
        with running_lab(
            monkeypatch, mesh="istio", istio_lb=balancer, seed=11, **SCALE
        ) as lab:
            slow = ratings_pods(lab)[:1]
            m = measure(
                lab,
                slow=slow,
                latency_ms=LATENCY_MS,
                window_s=WINDOW_S,
                rate_per_s=RATE,
            )
            shares[balancer] = (m.share_served_by(slow), m.error_rate)
    assert 0.4 <= shares["round-robin"][0] <= 0.6  # round robin: every other one
    assert shares["least-request"][0] <= shares["round-robin"][0] - 0.1
    assert shares["least-request"][1] < shares["round-robin"][1]


def test_d_a_status_only_probe_misses_degraded_answers(monkeypatch) -> None:  # noqa: ANN001
    with running_lab(
        monkeypatch, reviews_on_ratings_error="degraded", seed=11, **SCALE
    ) as lab:
        slow = ratings_pods(lab)[:1]
        common = dict(latency_ms=LATENCY_MS, window_s=WINDOW_S, rate_per_s=RATE)
        blind = measure(lab, slow=slow, **common)
        aware = measure(lab, slow=slow, body_must_not_contain=UNAVAILABLE, **common)
    assert blind.result["statuses"] == {"200": blind.result["total"]}
    assert blind.error_rate == 0.0
    assert 0.25 <= aware.error_rate <= 0.75  # about the slow pod's share
    assert aware.result["errors"]["body"] == aware.result["failed"]
    assert UNAVAILABLE in aware.result["error_examples"]["body"]


def test_e_when_every_replica_is_slow_retries_cannot_help(monkeypatch) -> None:  # noqa: ANN001
    with running_lab(monkeypatch, ratings_replicas=3, seed=11, **SCALE) as lab:
        launched = inject_network_latency(
            NS,
            "app=ratings",
            latency_ms=LATENCY_MS,
            duration_s=60,
            pods_affected_perc=100,
            wait=False,
        )
        try:
            wait_for_chaos_started(launched["engine_name"], NS, timeout_s=30)
            (fault,) = lab.dataplane.faults.active().values()
            assert len(fault["pods"]) == 3  # Litmus took every replica
            common = dict(window_s=1.5, rate_per_s=RATE, latency_ms=LATENCY_MS)
            # The fault is already on; `measure` adds the same one again.
            slow = fault["pods"]
            bare = measure(lab, slow=slow, **common)
            retried = measure(lab, slow=slow, policy=story_policy(PER_TRY_MS), **common)
        finally:
            delete_engine(launched["engine_name"], NS)
    assert bare.error_rate >= 0.9 and retried.error_rate >= 0.9
    assert retry_headroom(3, 100)["retries_can_help"] is False


def test_f_latency_under_the_callers_timeout_costs_no_errors(monkeypatch) -> None:  # noqa: ANN001
    with running_lab(monkeypatch, seed=11, **SCALE) as lab:
        slow = ratings_pods(lab)[:1]
        common = dict(latency_ms=400, window_s=WINDOW_S, rate_per_s=RATE)
        bare = measure(lab, slow=slow, **common)
        retried = measure(lab, slow=slow, policy=story_policy(PER_TRY_MS), **common)
    assert bare.error_rate == 0.0 and retried.error_rate == 0.0
    assert bare.result["p99_ms"] >= 390  # the latency was really there


def test_g_netem_on_connection_set_up_defeats_per_try_timeouts(monkeypatch) -> None:  # noqa: ANN001
    # A try that must open a connection to the slow pod waits for its
    # SYN-ACK before the per-try timer starts, and reviews gives up first.
    # (Without --netem-connection-setup the same policy rescues every
    # failure: the endpoints rows of test_a and the story.)
    with running_lab(monkeypatch, netem_connection_setup=True, seed=11, **SCALE) as lab:
        slow = ratings_pods(lab)[:1]
        bare, retried = with_and_without_retries(lab, slow)
        stats = dict(lab.dataplane.proxy.stats)
    assert 0.25 <= bare.error_rate <= 0.75
    assert retried.error_rate >= 0.1
    assert stats["slow_connection_set_ups"] > 0
