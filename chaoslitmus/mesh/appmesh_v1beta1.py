"""App Mesh ``appmesh.k8s.aws/v1beta1`` (legacy controller, up to v0.5.0).

The VirtualService itself holds the routes: ``spec.routes[].http|http2|grpc``
each with ``retryPolicy {maxRetries, perRetryTimeoutMillis, httpRetryEvents,
tcpRetryEvents[, grpcRetryEvents]}``; ``tcp`` routes have no retry policy.
The CRD enforces no required fields, so the checks here follow the App Mesh
API, which needs maxRetries and a per-retry timeout.
See docs/mesh-behaviour.md#app-mesh-v1beta1-routes.
"""

from __future__ import annotations

from chaoslitmus.mesh import appmesh_common as common
from chaoslitmus.mesh.policy import RetryPolicy
from chaoslitmus.mesh.routes import Adapter, RouteInfo

__all__ = ["ADAPTER", "from_policy", "to_policy"]

ROUTE_TYPES = ("http", "http2", "grpc", "tcp")
RETRY_TYPES = ("http", "http2", "grpc")
GRPC_TYPES = ("grpc",)


def describe(route: dict, index: int) -> RouteInfo:
    return common.describe_route(route, index, ROUTE_TYPES, RETRY_TYPES)


def get_raw(route: dict) -> dict | None:
    return common.get_retry_block(route, RETRY_TYPES)


def set_raw(route: dict, raw: dict | None) -> dict:
    return common.set_retry_block(route, raw, RETRY_TYPES)


def to_policy(raw: dict) -> RetryPolicy:
    """``retryPolicy`` -> neutral policy (fields missing in the CR stay ``None``)."""
    return RetryPolicy(
        max_retries=common.int_or_none(raw.get("maxRetries")),
        per_retry_timeout_ms=common.int_or_none(raw.get("perRetryTimeoutMillis")),
        http_retry_events=common.event_tuple(raw, "httpRetryEvents"),
        tcp_retry_events=common.event_tuple(raw, "tcpRetryEvents"),
        grpc_retry_events=common.event_tuple(raw, "grpcRetryEvents"),
    )


def from_policy(policy: RetryPolicy, info: RouteInfo, old: dict | None) -> dict:
    """Neutral policy -> a whole new ``retryPolicy`` (the old one is replaced)."""
    del old  # every key of the v1beta1 block is ours to set
    return {
        "maxRetries": policy.max_retries,
        "perRetryTimeoutMillis": policy.per_retry_timeout_ms,
        **common.events_for(policy, info, GRPC_TYPES),
    }


ADAPTER = Adapter(
    mesh="appmesh",
    api_version="v1beta1",
    group="appmesh.k8s.aws",
    plural="virtualservices",
    kind="VirtualService",
    routes_field="routes",
    describe=describe,
    get_raw=get_raw,
    set_raw=set_raw,
    to_policy=to_policy,
    from_policy=from_policy,
    check=common.check_policy,
    default_note=common.DEFAULT_NOTE,
    # v1beta1 has no timeout field: App Mesh's 15 s default always applies.
    route_timeout=lambda _route: (common.DEFAULT_ROUTE_TIMEOUT_MS, True),
)
