"""App Mesh v1beta2: routes on the VirtualRouter, perRetryTimeout {unit, value}."""

from __future__ import annotations

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.mesh.appmesh_v1beta2 import ADAPTER, duration_ms, router_ref
from chaoslitmus.mesh.policy import make_policy
from chaoslitmus.mesh.routes import apply_policy, read_policies, select_routes

from .crd_schema import route_errors
from .samples import (
    appmesh_v1beta2_router,
    appmesh_v1beta2_service,
    routes_of,
)

CRD = "appmesh-v1beta2-virtualrouter-crd.yaml"
STORY = make_policy(3, 2000, ["server-error"])


def test_story_policy_on_every_route_that_can_retry() -> None:
    routes = routes_of(appmesh_v1beta2_router())
    chosen, skipped = select_routes(ADAPTER, routes, None, "router")
    assert [i.type for i in chosen] == ["httpRoute", "http2Route", "grpcRoute"]
    assert [i.label for i in skipped] == ["ratings-tcp"]
    new_routes, report = apply_policy(ADAPTER, routes, chosen, STORY)
    expected = {
        "maxRetries": 3,
        "perRetryTimeout": {"unit": "ms", "value": 2000},
        "httpRetryEvents": ["server-error"],
    }
    assert new_routes[0]["httpRoute"]["retryPolicy"] == expected
    assert new_routes[1]["http2Route"]["retryPolicy"] == expected
    assert new_routes[2]["grpcRoute"]["retryPolicy"] == expected
    assert new_routes[3] == routes[3]
    # the timeout next to the retry policy is left alone
    assert new_routes[0]["httpRoute"]["timeout"] == {
        "perRequest": {"unit": "s", "value": 15}
    }
    for route in new_routes:
        assert route_errors(CRD, "v1beta2", "routes", route) == []
    assert report[1]["before"]["per_retry_timeout_ms"] == 1000  # {unit: s, value: 1}


def test_the_crd_would_refuse_what_we_never_send() -> None:
    # the schema check is real: a v1beta1-style timeout is invalid here
    route = routes_of(appmesh_v1beta2_router())[0]
    route["httpRoute"]["retryPolicy"] = {"maxRetries": 3, "perRetryTimeoutMillis": 2000}
    assert any(
        "perRetryTimeout" in e for e in route_errors(CRD, "v1beta2", "routes", route)
    )


def test_durations_read_in_both_units() -> None:
    assert duration_ms({"unit": "s", "value": 2}) == 2000
    assert duration_ms({"unit": "ms", "value": 250}) == 250
    assert duration_ms({"unit": "m", "value": 1}) is None
    assert duration_ms("2s") is None


def test_read_gives_neutral_and_raw() -> None:
    routes = routes_of(appmesh_v1beta2_router())
    chosen, _ = select_routes(ADAPTER, routes, "ratings-admin", "router")
    [entry] = read_policies(ADAPTER, routes, chosen)
    assert entry["policy"]["http_retry_events"] == ["gateway-error"]
    assert entry["raw"]["perRetryTimeout"] == {"unit": "s", "value": 1}


def test_router_ref_follows_the_provider() -> None:
    service = appmesh_v1beta2_service()
    assert router_ref(service) == ("ratings-router", "bookinfo")
    service["spec"]["provider"]["virtualRouter"]["virtualRouterRef"]["namespace"] = (
        "mesh"
    )
    assert router_ref(service) == ("ratings-router", "mesh")


def test_router_ref_explains_what_to_do_otherwise() -> None:
    service = appmesh_v1beta2_service()
    service["spec"]["provider"] = {"virtualRouter": {"virtualRouterARN": "arn:aws:x"}}
    with pytest.raises(ActivityFailed, match="pass virtual_router="):
        router_ref(service)
    service["spec"]["provider"] = {
        "virtualNode": {"virtualNodeRef": {"name": "ratings-v1"}}
    }
    with pytest.raises(
        ActivityFailed, match="create a VirtualRouter with a route to that node"
    ):
        router_ref(service)
    service["spec"]["provider"] = {}
    with pytest.raises(ActivityFailed, match="has no spec.provider.virtualRouter"):
        router_ref(service)


def test_warns_when_the_route_timeout_cuts_retries_short() -> None:
    routes = routes_of(appmesh_v1beta2_router())
    chosen, _ = select_routes(ADAPTER, routes, None, "router")
    # the story fits: 4 tries x 2 s inside the 15 s route timeout
    _, report = apply_policy(ADAPTER, routes, chosen, STORY)
    assert not any("warning" in entry for entry in report)

    routes[0]["httpRoute"]["timeout"] = {"perRequest": {"unit": "s", "value": 5}}
    _, report = apply_policy(ADAPTER, routes, chosen, STORY)
    assert report[0]["warning"].startswith(
        "the route timeout (5000 ms) covers all tries: 4 tries of 2000 ms need up "
        "to 8000 ms"
    )
    # http2Route has no timeout: App Mesh's 15 s default is what applies
    _, report = apply_policy(
        ADAPTER, routes, chosen, make_policy(9, 2000, ["server-error"])
    )
    assert report[1]["warning"].startswith("the default route timeout (15000 ms)")
