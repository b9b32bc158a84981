"""Route handling both App Mesh CRD versions share.

In v1beta1 and v1beta2 a route names itself, holds exactly one typed block
(``http``/``httpRoute``...) and the retry policy sits in that block; only the
key names and the timeout field differ, which the version modules supply.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from chaoslitmus.mesh.policy import INT64_MAX, PolicyError, RetryPolicy
from chaoslitmus.mesh.routes import Adapter, RouteError, RouteInfo

__all__ = [
    "DEFAULT_NOTE",
    "DEFAULT_ROUTE_TIMEOUT_MS",
    "RETRY_KEY",
    "adapter",
    "check_policy",
    "describe_route",
    "event_tuple",
    "events_for",
    "get_retry_block",
    "int_or_none",
    "retry_policy",
    "route_type",
    "set_retry_block",
]

RETRY_KEY = "retryPolicy"
# App Mesh user guide: a route's request timeout is 15 s unless set.
DEFAULT_ROUTE_TIMEOUT_MS = 15_000

DEFAULT_NOTE = (
    "without a retryPolicy App Mesh applies its default retry policy (AWS "
    "accounts with no mesh before 2020-07-29; older ones on request): 2 retries "
    "on HTTP 503, gRPC UNAVAILABLE, connect-failure, refused-stream and reset, "
    "with no per-try timeout; max_retries=0 asks for no retries (whether it "
    "overrides the default is not documented)"
)


def route_type(route: dict, route_types: tuple[str, ...]) -> list[str]:
    """The route-type keys present (App Mesh expects exactly one)."""
    return [key for key in route_types if key in route]


def describe_route(
    route: dict,
    index: int,
    route_types: tuple[str, ...],
    retry_types: tuple[str, ...],
) -> RouteInfo:
    """Name a route and say whether its type can carry a retry policy."""
    name = route.get("name")
    label = name if isinstance(name, str) and name else f"routes[{index}]"
    present = route_type(route, route_types)
    if not present:
        reason = f"it has no route type (one of {', '.join(route_types)})"
        return RouteInfo(index, label, None, reason)
    if len(present) > 1:
        reason = (
            f"it has more than one route type ({', '.join(present)}); App Mesh "
            "takes exactly one: fix the route first"
        )
        return RouteInfo(index, label, ",".join(present), reason)
    kind = present[0]
    if kind not in retry_types:
        reason = (
            f"a {kind} has no retry policy in App Mesh (only "
            f"{', '.join(retry_types)} do); pick another route"
        )
        return RouteInfo(index, label, kind, reason)
    if not isinstance(route[kind], dict):
        return RouteInfo(index, label, kind, f"its {kind} is not an object")
    return RouteInfo(index, label, kind, None)


def _retryable_block(route: dict, retry_types: tuple[str, ...]) -> str | None:
    present = route_type(route, retry_types)
    if len(present) == 1 and isinstance(route[present[0]], dict):
        return present[0]
    return None


def get_retry_block(route: dict, retry_types: tuple[str, ...]) -> dict | None:
    """The route's ``retryPolicy`` (``None`` when absent or not an object)."""
    kind = _retryable_block(route, retry_types)
    raw = route[kind].get(RETRY_KEY) if kind else None
    return raw if isinstance(raw, dict) else None


def set_retry_block(
    route: dict, raw: dict | None, retry_types: tuple[str, ...]
) -> dict:
    """A copy of ``route`` with its ``retryPolicy`` replaced (``None`` removes it)."""
    new = copy.deepcopy(route)
    kind = _retryable_block(new, retry_types)
    if kind is None:
        raise RouteError(f"route {route.get('name')!r} cannot carry a retry policy")
    if raw is None:
        new[kind].pop(RETRY_KEY, None)
    else:
        new[kind][RETRY_KEY] = copy.deepcopy(raw)
    return new


def events_for(
    policy: RetryPolicy, info: RouteInfo, grpc_types: tuple[str, ...]
) -> dict:
    """The event lists this route type accepts; an empty result is an error.

    gRPC events exist only on gRPC routes; empty lists are left out because
    the v1beta2 CRD wants 1+ items when a list is present.
    """
    grpc = info.type in grpc_types
    events: dict[str, Any] = {}
    if policy.http_retry_events:
        events["httpRetryEvents"] = list(policy.http_retry_events)
    if policy.tcp_retry_events:
        events["tcpRetryEvents"] = list(policy.tcp_retry_events)
    if grpc and policy.grpc_retry_events:
        events["grpcRetryEvents"] = list(policy.grpc_retry_events)
    if not events:
        raise PolicyError(
            f"invalid retry policy: route {info.label!r} ({info.type}) would get no "
            "retry events: grpc_retry_events apply to gRPC routes only; add "
            "http_retry_events or tcp_retry_events"
        )
    return events


def check_policy(policy: RetryPolicy) -> None:
    """App Mesh needs maxRetries and perRetryTimeout (API + v1beta2 CRD)."""
    if policy.per_retry_timeout_ms is None:
        raise PolicyError(
            "invalid retry policy: App Mesh requires per_retry_timeout_ms "
            "(perRetryTimeout is a required field), e.g. 2000"
        )
    for value, what in (
        (policy.max_retries, "max_retries"),
        (policy.per_retry_timeout_ms, "per_retry_timeout_ms"),
    ):
        if value is not None and value > INT64_MAX:
            raise PolicyError(f"invalid retry policy: {what} must be <= {INT64_MAX}")


def event_tuple(raw: dict, key: str) -> tuple[str, ...]:
    """Read an event list defensively (v1beta1 does not enforce types)."""
    value = raw.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(str(item) for item in value)


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def retry_policy(raw: dict, per_retry_timeout_ms: int | None) -> RetryPolicy:
    """A ``retryPolicy`` block -> neutral policy (fields missing stay ``None``);
    the version module reads the per-retry timeout, whose shape differs."""
    return RetryPolicy(
        max_retries=int_or_none(raw.get("maxRetries")),
        per_retry_timeout_ms=per_retry_timeout_ms,
        http_retry_events=event_tuple(raw, "httpRetryEvents"),
        tcp_retry_events=event_tuple(raw, "tcpRetryEvents"),
        grpc_retry_events=event_tuple(raw, "grpcRetryEvents"),
    )


def adapter(
    *,
    api_version: str,
    plural: str,
    kind: str,
    route_types: tuple[str, ...],
    retry_types: tuple[str, ...],
    to_policy: Callable[[dict], RetryPolicy],
    from_policy: Callable[[RetryPolicy, RouteInfo, dict | None], dict],
    route_timeout: Callable[[dict], tuple[int | None, bool]],
) -> Adapter:
    """The Adapter of one App Mesh version: its route-type keys, object and
    policy translation on the route handling both versions share."""
    return Adapter(
        mesh="appmesh",
        api_version=api_version,
        group="appmesh.k8s.aws",
        plural=plural,
        kind=kind,
        routes_field="routes",
        describe=lambda route, index: describe_route(
            route, index, route_types, retry_types
        ),
        get_raw=lambda route: get_retry_block(route, retry_types),
        set_raw=lambda route, raw: set_retry_block(route, raw, retry_types),
        to_policy=to_policy,
        from_policy=from_policy,
        check=check_policy,
        default_note=DEFAULT_NOTE,
        route_timeout=route_timeout,
    )
