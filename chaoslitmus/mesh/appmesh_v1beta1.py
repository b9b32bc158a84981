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
from chaoslitmus.mesh.routes import RouteInfo

__all__ = ["ADAPTER", "from_policy", "to_policy"]

ROUTE_TYPES = ("http", "http2", "grpc", "tcp")
RETRY_TYPES = ("http", "http2", "grpc")
GRPC_TYPES = ("grpc",)


def to_policy(raw: dict) -> RetryPolicy:
    """``retryPolicy`` -> neutral policy (fields missing in the CR stay ``None``)."""
    return common.retry_policy(
        raw, common.int_or_none(raw.get("perRetryTimeoutMillis"))
    )


def from_policy(policy: RetryPolicy, info: RouteInfo, old: dict | None) -> dict:
    """Neutral policy -> a whole new ``retryPolicy`` (the old one is replaced)."""
    del old  # every key of the v1beta1 block is ours to set
    return {
        "maxRetries": policy.max_retries,
        "perRetryTimeoutMillis": policy.per_retry_timeout_ms,
        **common.events_for(policy, info, GRPC_TYPES),
    }


ADAPTER = common.adapter(
    api_version="v1beta1",
    plural="virtualservices",
    kind="VirtualService",
    route_types=ROUTE_TYPES,
    retry_types=RETRY_TYPES,
    to_policy=to_policy,
    from_policy=from_policy,
    # v1beta1 has no timeout field: App Mesh's 15 s default always applies.
    route_timeout=lambda _route: (common.DEFAULT_ROUTE_TIMEOUT_MS, True),
)
