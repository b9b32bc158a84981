"""The mesh proxy's decisions, checked without a socket.

Which outcome is retried under which policy, how long the back-off is, which
host a retry goes to, and what App Mesh / Istio objects turn into.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from chaoslitmus.lab import LabError, LabOptions
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.lab.bookinfo.apps import LatencyFaults
from chaoslitmus.lab.env import with_no_proxy
from chaoslitmus.lab.mesh.envoy import (
    Cluster,
    Match,
    Outcome,
    OutcomeKind,
    RetryPolicy,
    backoff_ceiling_ms,
    backoff_ms,
    choose_cluster,
    endpoints,
    final_reply,
    pick_host,
    should_retry,
)
from chaoslitmus.lab.mesh.routes import (
    appmesh_default_retry,
    appmesh_retry,
    istio_default_retry,
    istio_retry,
    parse_duration_ms,
    route_table,
)

NS = world.NAMESPACE
TIMEOUT = Outcome(OutcomeKind.PER_TRY_TIMEOUT)
CONNECT = Outcome(OutcomeKind.CONNECT_FAILURE)
RESET = Outcome(OutcomeKind.RESET)
REFUSED = Outcome(OutcomeKind.REFUSED_STREAM)
STORY_POLICY = {
    "maxRetries": 3,
    "perRetryTimeout": {"unit": "ms", "value": 2000},
    "httpRetryEvents": ["server-error"],
}


def policy(*tokens: str, codes: tuple[int, ...] = ()) -> RetryPolicy:
    return RetryPolicy(
        num_retries=1,
        retry_on=frozenset(tokens),
        retriable_status_codes=frozenset(codes),
    )


# ------------------------------------------------------------------ retry events


@pytest.mark.parametrize(
    ("tokens", "outcome", "retried"),
    [
        (("5xx",), Outcome.response(500), True),
        (("5xx",), Outcome.response(503), True),
        (("5xx",), Outcome.response(409), False),
        (("5xx",), TIMEOUT, True),
        (("5xx",), CONNECT, True),
        (("5xx",), RESET, True),
        (("gateway-error",), Outcome.response(502), True),
        (("gateway-error",), Outcome.response(500), False),
        (("gateway-error",), TIMEOUT, True),
        (("reset",), TIMEOUT, True),
        (("reset",), Outcome.response(503), False),
        (("connect-failure",), CONNECT, True),
        (("connect-failure",), TIMEOUT, False),
        (("connect-failure",), RESET, False),
        (("refused-stream",), REFUSED, True),
        (("refused-stream",), TIMEOUT, False),
        (("retriable-4xx",), Outcome.response(409), True),
        (("retriable-4xx",), Outcome.response(404), False),
        (("unavailable", "cancelled"), TIMEOUT, False),
        ((), Outcome.response(503), False),
    ],
)
def test_envoy_retry_on_tokens(
    tokens: tuple[str, ...], outcome: Outcome, retried: bool
) -> None:
    assert should_retry(outcome, policy(*tokens)) is retried


def test_status_codes_retry_only_when_listed() -> None:
    listed = policy("retriable-status-codes", codes=(503,))
    assert should_retry(Outcome.response(503), listed)
    assert not should_retry(Outcome.response(500), listed)
    assert not should_retry(Outcome.response(503), policy(codes=(503,)))


def test_the_story_policy_retries_a_slow_try_and_server_errors() -> None:
    story = appmesh_retry(STORY_POLICY)
    assert story.num_retries == 3 and story.per_try_timeout_ms == 2000
    for outcome in (TIMEOUT, RESET, CONNECT, Outcome.response(500)):
        assert should_retry(outcome, story), outcome
    for status in (501, 502, 503, 504, 505, 506, 507, 508, 510, 511):
        assert should_retry(Outcome.response(status), story)
    for status in (200, 404, 409, 509):
        assert not should_retry(Outcome.response(status), story)


def test_app_mesh_events_map_to_their_envoy_conditions() -> None:
    gateway = appmesh_retry({"maxRetries": 1, "httpRetryEvents": ["gateway-error"]})
    assert should_retry(Outcome.response(504), gateway)
    assert should_retry(TIMEOUT, gateway)
    assert not should_retry(Outcome.response(500), gateway)
    client = appmesh_retry({"maxRetries": 1, "httpRetryEvents": ["client-error"]})
    assert should_retry(Outcome.response(409), client)
    assert not should_retry(TIMEOUT, client)
    stream = appmesh_retry({"maxRetries": 1, "httpRetryEvents": ["stream-error"]})
    assert should_retry(REFUSED, stream) and not should_retry(TIMEOUT, stream)
    tcp = appmesh_retry({"maxRetries": 1, "tcpRetryEvents": ["connection-error"]})
    assert should_retry(CONNECT, tcp) and not should_retry(TIMEOUT, tcp)


def test_app_mesh_v1beta1_spelling_of_the_per_try_timeout() -> None:
    legacy = appmesh_retry(
        {
            "maxRetries": 3,
            "perRetryTimeoutMillis": 2000,
            "httpRetryEvents": ["server-error"],
        }
    )
    assert legacy.per_try_timeout_ms == 2000
    assert legacy.summary == "maxRetries=3 perTry=2000ms on server-error"
    in_seconds = appmesh_retry(
        {"maxRetries": 1, "perRetryTimeout": {"unit": "s", "value": 2}}
    )
    assert in_seconds.per_try_timeout_ms == 2000


def test_app_mesh_default_retries_503_and_lost_connections_but_has_no_per_try() -> None:
    default = appmesh_default_retry()
    assert default.num_retries == 2 and default.per_try_timeout_ms is None
    assert should_retry(Outcome.response(503), default)
    assert should_retry(CONNECT, default) and should_retry(RESET, default)
    assert should_retry(REFUSED, default)
    assert not should_retry(Outcome.response(500), default)
    assert not should_retry(Outcome.response(504), default)


def test_istio_default_since_1_24_does_not_retry_503() -> None:
    default = istio_default_retry()
    assert default.num_retries == 2 and default.per_try_timeout_ms is None
    assert should_retry(CONNECT, default) and should_retry(REFUSED, default)
    assert not should_retry(Outcome.response(503), default)
    assert not should_retry(RESET, default)
    assert not should_retry(TIMEOUT, default)


def test_istio_retries_block() -> None:
    story = istio_retry({"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"})
    assert (story.num_retries, story.per_try_timeout_ms) == (3, 2000)
    assert should_retry(TIMEOUT, story)
    assert story.summary == "maxRetries=3 perTry=2000ms on 5xx"
    codes = istio_retry({"attempts": 2, "retryOn": "connect-failure,503"})
    assert codes.retriable_status_codes == {503}
    assert should_retry(Outcome.response(503), codes)
    assert not should_retry(Outcome.response(500), codes)
    kept = istio_retry({"attempts": 4})  # no retryOn: the default list stays
    assert kept.retry_on == istio_default_retry().retry_on
    assert istio_retry({"attempts": 0, "retryOn": "5xx"}).num_retries == 0
    assert istio_retry({"retryOn": "5xx"}).num_retries == 0  # attempts unset = 0
    sticky = istio_retry({"attempts": 1, "retryIgnorePreviousHosts": False}, True)
    assert sticky.previous_hosts is False
    slow = istio_retry({"attempts": 1, "backoff": "100ms"})
    assert (slow.backoff_base_ms, slow.backoff_max_ms) == (100, 1000)


@pytest.mark.parametrize(
    ("text", "ms"),
    [("2s", 2000), ("1500ms", 1500), ("1m30s", 90_000), ("0.5s", 500), ("0s", 0)],
)
def test_durations(text: str, ms: float) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["", "2", "two seconds", "2 s", None, 2])
def test_bad_durations_are_none(text: Any) -> None:
    assert parse_duration_ms(text) is None


# ---------------------------------------------------------------------- back-off


def test_backoff_ceilings_follow_full_jitter_with_a_cap() -> None:
    ceilings = [backoff_ceiling_ms(n, 25, 250) for n in range(0, 7)]
    assert ceilings == [0, 25, 75, 175, 250, 250, 250]


def test_backoff_samples_stay_under_the_ceiling_and_spread_over_it() -> None:
    rng = random.Random(11)
    story = appmesh_retry(STORY_POLICY)
    for retry, ceiling in ((1, 25), (2, 75), (3, 175), (8, 250)):
        samples = [backoff_ms(retry, story, rng) for _ in range(2000)]
        assert all(0 <= s < ceiling for s in samples)
        # Uniform: the mean of 2000 draws is within 10% of the ceiling of the
        # middle (standard error about 0.65% of the ceiling).
        assert abs(sum(samples) / len(samples) - ceiling / 2) < ceiling * 0.1


def test_backoff_is_reproducible_with_a_seed() -> None:
    story = appmesh_retry(STORY_POLICY)
    first = [backoff_ms(2, story, random.Random(5)) for _ in range(3)]
    again = [backoff_ms(2, story, random.Random(5)) for _ in range(3)]
    assert first == again


# ---------------------------------------------------------------- host selection


def test_round_robin_walks_the_hosts_in_order() -> None:
    hosts = ["a", "b", "c"]
    counter, picked = 0, []
    for _ in range(5):
        host, counter = pick_host(hosts, counter, [], True, 5)
        picked.append(host)
    assert picked == ["a", "b", "c", "a", "b"]


def test_previous_hosts_never_sends_a_retry_back_to_a_tried_host() -> None:
    hosts = ["slow", "fast"]
    for counter in range(4):
        host, _ = pick_host(hosts, counter, ["slow"], True, 5)
        assert host == "fast"


def test_without_the_predicate_a_retry_goes_wherever_round_robin_points() -> None:
    hosts = ["slow", "fast"]
    picks = [pick_host(hosts, counter, ["slow"], False, 5)[0] for counter in range(4)]
    assert picks == ["slow", "fast", "slow", "fast"]


def test_host_selection_gives_up_after_max_attempts_and_takes_the_last_pick() -> None:
    hosts = ["a", "b", "c"]
    # Two re-picks allowed, a and b tried: a (rejected) -> b (rejected) -> c.
    assert pick_host(hosts, 0, ["a", "b"], True, 2) == ("c", 3)
    # One re-pick only: a (rejected) -> b, taken although tried.
    assert pick_host(hosts, 0, ["a", "b"], True, 1) == ("b", 2)
    # A single host is retried whatever the predicate says.
    assert pick_host(["only"], 7, ["only"], True, 5)[0] == "only"


def test_pick_host_needs_hosts() -> None:
    with pytest.raises(ValueError):
        pick_host([], 0, [], True, 5)


def test_weighted_clusters_follow_their_weights() -> None:
    clusters = [
        Cluster.of("v1", 3, {}),
        Cluster.of("v2", 1, {}),
        Cluster.of("v3", 0, {}),
    ]
    rng = random.Random(3)
    picks = [choose_cluster(clusters, rng).name for _ in range(4000)]  # type: ignore[union-attr]
    assert "v3" not in picks
    assert 0.70 < picks.count("v1") / len(picks) < 0.80  # expected 0.75
    assert choose_cluster([Cluster.of("off", 0, {})], rng) is None


def test_endpoints_are_the_selected_pods_sorted() -> None:
    pods = {
        "r-b": {"app": "ratings", "version": "v1"},
        "r-a": {"app": "ratings", "version": "v1"},
        "v-a": {"app": "reviews"},
    }
    assert endpoints(Cluster.of("c", 1, {"app": "ratings"}), pods) == ["r-a", "r-b"]
    assert endpoints(Cluster.of("c", 1, None), pods) == []


def test_local_replies_say_what_happened() -> None:
    assert final_reply(TIMEOUT) == (504, "upstream request timeout")
    status, text = final_reply(CONNECT)
    assert status == 503 and text.endswith("reset reason: connection failure")


def test_matches() -> None:
    assert Match(prefix="/ratings").matches("/ratings/0", "GET")
    assert not Match(prefix="/ratings").matches("/reviews/0", "GET")
    assert Match(prefix=None, exact="/ratings/0").matches("/ratings/0", "GET")
    assert not Match(prefix=None, exact="/ratings/0").matches("/ratings/01", "GET")
    assert Match(prefix=None, regex=r"/ratings/\d+").matches("/ratings/12", "GET")
    assert not Match(prefix=None, regex="(").matches("/", "GET")
    assert not Match(method="POST").matches("/", "GET")


# ------------------------------------------------------------- mesh objects


def objects_of(manifests: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for manifest in manifests:
        plural = manifest["kind"].lower() + "s"
        out.setdefault(plural, []).append(manifest)
    return out


def world_objects(options: LabOptions) -> dict[str, list[dict[str, Any]]]:
    return objects_of(
        [m for m in world.static_manifests(options) if m["kind"] in ("Service",)]
        + world.mesh_manifests(options)
    )


RATINGS_PODS = {"ratings-v1-a": {"app": "ratings", "version": "v1"}}


@pytest.mark.parametrize(
    ("options", "flavour", "summary", "timeout"),
    [
        (LabOptions(), "appmesh-v1beta2", "App Mesh default", 15000),
        (
            LabOptions(appmesh_api="v1beta1"),
            "appmesh-v1beta1",
            "App Mesh default",
            15000,
        ),
        (LabOptions(mesh="istio"), "istio", "Istio default", None),
    ],
)
def test_the_seeded_world_routes_ratings_with_the_mesh_default(
    options: LabOptions, flavour: Any, summary: str, timeout: float | None
) -> None:
    table = route_table(flavour, NS, "ratings", world_objects(options))
    route = table.match("/ratings/0")
    assert route is not None and not table.problems
    assert route.name == world.RATINGS_ROUTE
    assert route.retry.summary.startswith(summary)
    assert route.timeout_ms == timeout
    assert [endpoints(c, RATINGS_PODS) for c in route.clusters] == [["ratings-v1-a"]]


def test_v1beta2_router_policy_and_timeout_are_followed() -> None:
    objects = world_objects(LabOptions())
    router = objects["virtualrouters"][0]
    http = router["spec"]["routes"][0]["httpRoute"]
    http["retryPolicy"] = copy.deepcopy(STORY_POLICY)
    http["timeout"] = {"perRequest": {"unit": "s", "value": 5}}
    route = route_table("appmesh-v1beta2", NS, "ratings", objects).routes[0]
    assert route.retry.per_try_timeout_ms == 2000
    assert route.timeout_ms == 5000
    assert route.describe() == (
        "ratings-route retry policy now maxRetries=3 perTry=2000ms on server-error "
        "(route timeout 5000ms, retries go to other hosts)"
    )
    http["timeout"] = {"perRequest": {"unit": "ms", "value": 0}}
    assert (
        route_table("appmesh-v1beta2", NS, "ratings", objects).routes[0].timeout_ms
        is None
    )


def test_v1beta2_routes_are_matched_by_priority() -> None:
    objects = world_objects(LabOptions())
    routes = objects["virtualrouters"][0]["spec"]["routes"]
    catch_all = routes[0]
    special = copy.deepcopy(catch_all)
    special["name"] = "zero-route"
    special["priority"] = 0
    special["httpRoute"]["match"] = {"path": {"exact": "/ratings/0"}}
    catch_all["priority"] = 5
    routes.append(special)
    table = route_table("appmesh-v1beta2", NS, "ratings", objects)
    assert table.match("/ratings/0").name == "zero-route"  # type: ignore[union-attr]
    assert table.match("/ratings/1").name == world.RATINGS_ROUTE  # type: ignore[union-attr]


def test_v1beta2_missing_pieces_leave_no_hosts_or_a_problem() -> None:
    objects = world_objects(LabOptions())
    objects["virtualnodes"] = []
    route = route_table("appmesh-v1beta2", NS, "ratings", objects).routes[0]
    assert route.clusters[0].selector is None  # unresolved: 503 no healthy upstream
    objects["virtualrouters"] = []
    table = route_table("appmesh-v1beta2", NS, "ratings", objects)
    assert not table.routes and "ratings-router not found" in table.problems[0]


def test_v1beta1_reads_the_policy_on_the_virtual_service() -> None:
    objects = world_objects(LabOptions(appmesh_api="v1beta1"))
    vs = objects["virtualservices"][0]
    vs["spec"]["routes"][0]["http"]["retryPolicy"] = {
        "maxRetries": 3,
        "perRetryTimeoutMillis": 2000,
        "httpRetryEvents": ["server-error"],
    }
    route = route_table("appmesh-v1beta1", NS, "ratings", objects).routes[0]
    assert route.retry.summary == "maxRetries=3 perTry=2000ms on server-error"
    assert dict(route.clusters[0].selector or ()) == {"app": "ratings", "version": "v1"}


def test_istio_virtual_service_retries_and_timeout() -> None:
    objects = world_objects(LabOptions(mesh="istio"))
    http = objects["virtualservices"][0]["spec"]["http"][0]
    http["retries"] = {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"}
    http["timeout"] = "10s"
    route = route_table("istio", NS, "ratings", objects).routes[0]
    assert (route.retry.num_retries, route.retry.per_try_timeout_ms) == (3, 2000)
    assert route.timeout_ms == 10_000
    assert dict(route.clusters[0].selector or ()) == {"app": "ratings"}


def test_istio_without_a_virtual_service_keeps_the_default_route() -> None:
    objects = world_objects(LabOptions(mesh="istio"))
    objects["virtualservices"] = []
    route = route_table("istio", NS, "ratings", objects).routes[0]
    assert route.retry.summary.startswith("Istio default")
    assert route.timeout_ms is None


def test_app_mesh_without_a_virtual_service_passes_through_without_retries() -> None:
    objects = world_objects(LabOptions())
    objects["virtualservices"] = []
    table = route_table("appmesh-v1beta2", NS, "ratings", objects)
    assert table.routes[0].name == "passthrough"
    assert table.routes[0].retry.num_retries == 0
    assert "no VirtualService" in table.problems[0]


def test_the_lab_predicate_option_reaches_every_route() -> None:
    objects = world_objects(LabOptions())
    table = route_table("appmesh-v1beta2", NS, "ratings", objects, previous_hosts=False)
    route = table.routes[0]
    assert route.retry.previous_hosts is False
    assert route.describe().endswith("retries go to any host)")


# ------------------------------------------------------------------ faults, options


def test_latency_faults_jitter_uniformly_and_stop() -> None:
    faults = LatencyFaults(random.Random(1))
    faults.start("f1", NS, ["pod-a"], 3000, 500)
    samples = [faults.delay_ms(NS, "pod-a") for _ in range(500)]
    assert all(2500 <= s <= 3500 for s in samples)
    assert min(samples) < 2600 and max(samples) > 3400  # spread, not fixed
    assert faults.delay_ms(NS, "pod-b") == 0
    assert faults.delay_ms("other", "pod-a") == 0
    faults.start("f2", NS, ["pod-a"], 5000, 0)
    assert faults.delay_ms(NS, "pod-a") == 5000  # one qdisc: the larger delay
    assert faults.stop("f2") and faults.stop("f1")
    assert not faults.stop("f1")  # idempotent
    assert faults.delay_ms(NS, "pod-a") == 0


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"mesh": "linkerd"}, "unknown mesh 'linkerd'"),
        ({"appmesh_api": "v1"}, "unknown App Mesh API 'v1'"),
        ({"retry_host_predicate": "random"}, "unknown retry host predicate"),
        ({"ratings_replicas": 0}, "ratings replicas"),
        ({"reviews_timeout_ms": 0}, "reviews timeout"),
        ({"reviews_port": 70000}, "reviews port"),
    ],
)
def test_bad_lab_options_are_one_line(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(LabError) as error:
        LabOptions(**kwargs)
    assert words in str(error.value) and "\n" not in str(error.value)


def test_lab_options_name_what_experiments_need() -> None:
    assert world.mesh_object(LabOptions()) == "ratings.bookinfo.svc.cluster.local"
    assert LabOptions().mesh_api_version == "v1beta2"
    assert world.mesh_object(LabOptions(mesh="istio")) == "ratings"
    assert LabOptions(mesh="istio").mesh_api_version == "v1"
    assert LabOptions(appmesh_api="v1beta1").flavour == "appmesh-v1beta1"


def test_no_proxy_gets_loopback_once() -> None:
    assert with_no_proxy({}) == {
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    kept = with_no_proxy({"NO_PROXY": "corp.example, localhost"})
    assert kept["NO_PROXY"] == "corp.example,localhost,127.0.0.1"
