"""App Mesh v1beta1: routes on the VirtualService, retryPolicy in http/http2/grpc."""

from __future__ import annotations

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.mesh.appmesh_v1beta1 import ADAPTER
from chaoslitmus.mesh.policy import make_policy
from chaoslitmus.mesh.routes import (
    apply_policy,
    clear_policy,
    read_policies,
    select_routes,
)

from .crd_schema import route_errors
from .samples import appmesh_v1beta1_service, routes_of

CRD = "appmesh-v1beta1-virtualservice-crd.yaml"
STORY = make_policy(3, 2000, ["server-error"])


def test_all_routes_selects_http_and_grpc_and_skips_tcp() -> None:
    routes = routes_of(appmesh_v1beta1_service())
    chosen, skipped = select_routes(ADAPTER, routes, None, "vs")
    assert [(i.label, i.type) for i in chosen] == [
        ("ratings-route", "http"),
        ("ratings-grpc", "grpc"),
    ]
    assert [(i.label, i.type) for i in skipped] == [("ratings-tcp", "tcp")]
    assert "no retry policy" in skipped[0].no_retry_reason


def test_story_policy_lands_in_the_http_block_and_is_schema_valid() -> None:
    routes = routes_of(appmesh_v1beta1_service())
    chosen, _ = select_routes(ADAPTER, routes, "ratings-route", "vs")
    new_routes, report = apply_policy(ADAPTER, routes, chosen, STORY)
    assert new_routes[0]["http"]["retryPolicy"] == {
        "maxRetries": 3,
        "perRetryTimeoutMillis": 2000,
        "httpRetryEvents": ["server-error"],
    }
    # priority stays at route level (where the controller reads it) and the
    # other routes are untouched
    assert new_routes[0]["priority"] == 10
    assert new_routes[1:] == routes[1:]
    assert routes[0]["http"].get("retryPolicy") is None  # input not mutated
    assert route_errors(CRD, "v1beta1", "routes", new_routes[0]) == []
    assert report == [
        {
            "name": "ratings-route",
            "index": 0,
            "type": "http",
            "before": None,
            "after": STORY.to_dict(),
            "changed": True,
        }
    ]


def test_grpc_route_gets_grpc_events_http_route_does_not() -> None:
    routes = routes_of(appmesh_v1beta1_service())
    policy = make_policy(2, 1000, ["gateway-error"], None, ["unavailable"])
    chosen, _ = select_routes(ADAPTER, routes, None, "vs")
    new_routes, report = apply_policy(ADAPTER, routes, chosen, policy)
    assert "grpcRetryEvents" not in new_routes[0]["http"]["retryPolicy"]
    assert new_routes[1]["grpc"]["retryPolicy"]["grpcRetryEvents"] == ["unavailable"]
    assert report[1]["before"]["grpc_retry_events"] == ["unavailable"]
    for route in new_routes:
        assert route_errors(CRD, "v1beta1", "routes", route) == []


def test_grpc_only_events_on_an_http_route_is_refused() -> None:
    routes = routes_of(appmesh_v1beta1_service())
    chosen, _ = select_routes(ADAPTER, routes, "ratings-route", "vs")
    with pytest.raises(
        ActivityFailed, match="grpc_retry_events apply to gRPC routes only"
    ):
        apply_policy(
            ADAPTER, routes, chosen, make_policy(2, 1000, None, None, ["internal"])
        )


def test_app_mesh_requires_a_per_retry_timeout() -> None:
    routes = routes_of(appmesh_v1beta1_service())
    chosen, _ = select_routes(ADAPTER, routes, None, "vs")
    with pytest.raises(ActivityFailed, match="requires per_retry_timeout_ms"):
        apply_policy(ADAPTER, routes, chosen, make_policy(3, None, ["server-error"]))


def test_naming_the_tcp_route_or_an_unknown_one_says_what_exists() -> None:
    routes = routes_of(appmesh_v1beta1_service())
    with pytest.raises(ActivityFailed, match="a tcp has no retry policy in App Mesh"):
        select_routes(ADAPTER, routes, "ratings-tcp", "vs")
    with pytest.raises(ActivityFailed) as caught:
        select_routes(ADAPTER, routes, "nope", "VirtualService 'ratings'")
    assert str(caught.value) == (
        "VirtualService 'ratings' has no route named 'nope'; its routes: "
        "'ratings-route', 'ratings-grpc', 'ratings-tcp'"
    )


def test_read_and_clear() -> None:
    routes = routes_of(appmesh_v1beta1_service())
    chosen, _ = select_routes(ADAPTER, routes, None, "vs")
    read = read_policies(ADAPTER, routes, chosen)
    assert read[0]["policy"] is None and read[0]["raw"] is None
    assert read[1]["policy"]["max_retries"] == 1
    assert read[1]["raw"]["perRetryTimeoutMillis"] == 500
    cleared, report = clear_policy(ADAPTER, routes, chosen)
    assert "retryPolicy" not in cleared[1]["grpc"]
    assert [entry["changed"] for entry in report] == [False, True]


def test_route_with_two_types_is_reported_not_guessed() -> None:
    routes = routes_of(appmesh_v1beta1_service())
    routes[0]["http2"] = dict(routes[0]["http"])
    with pytest.raises(
        ActivityFailed, match=r"more than one route type \(http, http2\)"
    ):
        select_routes(ADAPTER, routes, "ratings-route", "vs")
