"""Istio: http[].retries, events as Envoy retry-on tokens, durations as strings."""

from __future__ import annotations

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.mesh.istio import (
    ADAPTERS,
    format_duration,
    from_policy,
    parse_duration_ms,
    to_policy,
)
from chaoslitmus.mesh.policy import RetryPolicy, make_policy
from chaoslitmus.mesh.routes import RouteInfo, apply_policy, select_routes

from .crd_schema import route_errors
from .samples import istio_service, routes_of

ADAPTER = ADAPTERS["v1"]
CRD = "istio-virtualservice-crd.yaml"
HTTP = RouteInfo(0, "primary", "http")


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2s", 2000),
        ("1500ms", 1500),
        ("1.5s", 1500),
        ("1m30s", 90000),
        ("0.5ms", 0.5),
        ("250000us", 250),
        ("1h", 3600000),
    ],
)
def test_parse_duration(text: str, ms: float) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["", "2", "2 s", "s", "2d", None, 5])
def test_unparseable_durations_are_none(text: object) -> None:
    assert parse_duration_ms(text) is None


def test_format_duration_prefers_whole_seconds() -> None:
    assert format_duration(2000) == "2s"
    assert format_duration(1500) == "1500ms"
    assert parse_duration_ms(format_duration(1)) == 1


def test_every_event_round_trips() -> None:
    policy = make_policy(
        3,
        2000,
        ["server-error", "gateway-error", "client-error", "stream-error"],
        ["connection-error"],
        [
            "cancelled",
            "deadline-exceeded",
            "internal",
            "resource-exhausted",
            "unavailable",
        ],
    )
    raw = from_policy(policy, HTTP, None)
    assert raw == {
        "attempts": 3,
        "perTryTimeout": "2s",
        "retryOn": "5xx,gateway-error,retriable-4xx,refused-stream,connect-failure,"
        "cancelled,deadline-exceeded,internal,resource-exhausted,unavailable",
    }
    assert to_policy(raw) == policy


def test_unknown_retry_on_tokens_are_kept_as_other_events() -> None:
    raw = routes_of(istio_service(), "http")[0]["retries"]
    assert to_policy(raw) == RetryPolicy(
        max_retries=2,
        per_retry_timeout_ms=1500,
        http_retry_events=("gateway-error",),
        tcp_retry_events=("connection-error",),
        other_events=("reset", "503"),
    )


def test_set_replaces_our_keys_and_keeps_the_others() -> None:
    routes = routes_of(istio_service(), "http")
    chosen, skipped = select_routes(ADAPTER, routes, None, "vs")
    assert [i.label for i in chosen] == ["primary", "http[1]"] and not skipped
    new_routes, report = apply_policy(
        ADAPTER, routes, chosen, make_policy(3, 2000, ["server-error"])
    )
    assert new_routes[0]["retries"] == {
        "attempts": 3,
        "perTryTimeout": "2s",
        "retryOn": "5xx",
        "retryRemoteLocalities": True,
    }
    assert new_routes[1]["retries"] == {
        "attempts": 3,
        "perTryTimeout": "2s",
        "retryOn": "5xx",
    }
    assert new_routes[0]["timeout"] == "10s"
    for route in new_routes:
        assert route_errors(CRD, "v1", "http", route) == []
    assert report[1]["before"] is None


def test_no_per_try_timeout_is_allowed_for_istio_and_removes_it() -> None:
    raw = from_policy(
        make_policy(1, None, ["gateway-error"]), HTTP, {"perTryTimeout": "1s"}
    )
    assert raw == {"attempts": 1, "retryOn": "gateway-error"}


def test_unnamed_routes_are_selected_by_position_label() -> None:
    routes = routes_of(istio_service(), "http")
    chosen, _ = select_routes(ADAPTER, routes, "http[1]", "vs")
    assert chosen[0].index == 1
    with pytest.raises(ActivityFailed, match="its routes: 'primary', 'http\\[1\\]'"):
        select_routes(ADAPTER, routes, "secondary", "vs")


def test_attempts_is_an_int32() -> None:
    with pytest.raises(ActivityFailed, match="max_retries must be <= 2147483647"):
        ADAPTER.check(make_policy(2**31, 1000, ["server-error"]))


def test_no_http_routes_is_an_error() -> None:
    with pytest.raises(ActivityFailed, match="has no routes in spec.http"):
        select_routes(ADAPTER, [], None, "VirtualService 'ratings'")


def test_warns_only_against_a_route_timeout_that_is_set() -> None:
    routes = routes_of(istio_service(), "http")  # primary: timeout 10s; http[1]: none
    chosen, _ = select_routes(ADAPTER, routes, None, "vs")
    _, report = apply_policy(
        ADAPTER, routes, chosen, make_policy(3, 2000, ["server-error"])
    )
    assert not any("warning" in entry for entry in report)
    _, report = apply_policy(
        ADAPTER, routes, chosen, make_policy(5, 2000, ["server-error"])
    )
    assert "route timeout (10000 ms)" in report[0]["warning"]
    assert "warning" not in report[1]
