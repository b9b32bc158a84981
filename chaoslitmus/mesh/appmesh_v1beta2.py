"""App Mesh ``appmesh.k8s.aws/v1beta2`` (controller v1.0.0 and later).

Routes live on a VirtualRouter: ``spec.routes[].httpRoute|http2Route|
grpcRoute.retryPolicy {maxRetries, perRetryTimeout {unit, value},
httpRetryEvents, tcpRetryEvents[, grpcRetryEvents]}``; ``tcpRoute`` has no
retry policy. A VirtualService points at its router through
``spec.provider.virtualRouter.virtualRouterRef``; :func:`router_ref` follows
it, or explains why it cannot (ARN-only reference, virtual-node provider).
See docs/mesh-behaviour.md#app-mesh-v1beta2-routes.
"""

from __future__ import annotations

from chaoslitmus.mesh import appmesh_common as common
from chaoslitmus.mesh.policy import RetryPolicy
from chaoslitmus.mesh.routes import RouteError, RouteInfo

__all__ = ["ADAPTER", "from_policy", "router_ref", "to_policy"]

ROUTE_TYPES = ("httpRoute", "http2Route", "grpcRoute", "tcpRoute")
RETRY_TYPES = ("httpRoute", "http2Route", "grpcRoute")
GRPC_TYPES = ("grpcRoute",)
_UNIT_MS = {"ms": 1, "s": 1000}


def duration_ms(duration: object) -> int | None:
    """``{unit: s|ms, value: n}`` -> milliseconds (``None`` if malformed)."""
    if not isinstance(duration, dict):
        return None
    unit = duration.get("unit")
    factor = _UNIT_MS.get(unit) if isinstance(unit, str) else None
    value = common.int_or_none(duration.get("value"))
    return None if factor is None or value is None else value * factor


def to_policy(raw: dict) -> RetryPolicy:
    return common.retry_policy(raw, duration_ms(raw.get("perRetryTimeout")))


def from_policy(policy: RetryPolicy, info: RouteInfo, old: dict | None) -> dict:
    """A whole new ``retryPolicy``; the timeout is always written in ms (exact)."""
    del old
    return {
        "maxRetries": policy.max_retries,
        "perRetryTimeout": {"unit": "ms", "value": policy.per_retry_timeout_ms},
        **common.events_for(policy, info, GRPC_TYPES),
    }


def route_timeout(route: dict) -> tuple[int | None, bool]:
    """``timeout.perRequest`` in ms; App Mesh's default is 15 s, 0 disables."""
    kinds = common.route_type(route, RETRY_TYPES)
    block = route.get(kinds[0]) if len(kinds) == 1 else None
    timeout = (block or {}).get("timeout") if isinstance(block, dict) else None
    if not isinstance(timeout, dict) or "perRequest" not in timeout:
        return common.DEFAULT_ROUTE_TIMEOUT_MS, True
    return duration_ms(timeout["perRequest"]) or None, False


def router_ref(virtual_service: dict) -> tuple[str, str]:
    """``(name, namespace)`` of the VirtualRouter a v1beta2 VirtualService uses.

    The namespace defaults to the VirtualService's own, as in the controller.
    """
    meta = virtual_service.get("metadata") or {}
    label = (
        f"VirtualService '{meta.get('name')}' in namespace '{meta.get('namespace')}'"
    )
    provider = (virtual_service.get("spec") or {}).get("provider") or {}
    router = provider.get("virtualRouter")
    node = provider.get("virtualNode")
    if isinstance(router, dict):
        ref = router.get("virtualRouterRef")
        if isinstance(ref, dict) and ref.get("name"):
            return ref["name"], ref.get("namespace") or meta.get("namespace", "")
        if router.get("virtualRouterARN"):
            raise RouteError(
                f"{label} names its VirtualRouter by ARN "
                f"({router['virtualRouterARN']}); pass virtual_router=<name of the "
                "VirtualRouter object> to edit its routes"
            )
    if isinstance(node, dict):
        target = (node.get("virtualNodeRef") or {}).get("name") or node.get(
            "virtualNodeARN", "?"
        )
        raise RouteError(
            f"{label} is served directly by virtual node '{target}', which has no "
            "routes to hold a retry policy: create a VirtualRouter with a route to "
            "that node, point the VirtualService's provider at it, then retry"
        )
    raise RouteError(
        f"{label} has no spec.provider.virtualRouter.virtualRouterRef; set one, "
        "or pass virtual_router=<VirtualRouter name>"
    )


ADAPTER = common.adapter(
    api_version="v1beta2",
    plural="virtualrouters",
    kind="VirtualRouter",
    route_types=ROUTE_TYPES,
    retry_types=RETRY_TYPES,
    to_policy=to_policy,
    from_policy=from_policy,
    route_timeout=route_timeout,
)
