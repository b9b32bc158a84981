# ruff: noqa: UP006, UP007, UP035, UP045
# chaoslib 1.44's discovery names only typing.List/Dict: keep them for `chaos discover`.
"""Read a service mesh's retry policy, in one vocabulary for every mesh."""

__all__ = ["equivalent_policies", "get_retry_policy", "retry_policy_matches"]

import logging
from typing import Any, Dict, List, Optional

from chaoslib.types import Secrets

from chaoslitmus.mesh import cluster
from chaoslitmus.mesh.advisories import object_warnings
from chaoslitmus.mesh.equivalence import compare
from chaoslitmus.mesh.policy import (
    GRPC_RETRY_EVENTS,
    HTTP_RETRY_EVENTS,
    TCP_RETRY_EVENTS,
    PolicyError,
    flag,
    make_policy,
    optional_events,
    optional_int,
    policy_matches,
)
from chaoslitmus.mesh.routes import read_policies, select_routes, skipped_report
from chaoslitmus.mesh.snapshot import read_snapshot, routes_of

logger = logging.getLogger("chaostoolkit.litmus.mesh")


def _read(
    name: Optional[str],
    namespace: str,
    mesh: str,
    api_version: str,
    route_name: Optional[str],
    virtual_router: Optional[str],
    secrets: Secrets,
    kind: Optional[str] = None,
) -> tuple:
    """(output, adapter): the probes' shared read of one object."""
    kube, target = cluster.connect(
        secrets, name, namespace, mesh, api_version, virtual_router, kind=kind
    )
    adapter = target.adapter
    obj = cluster.read(kube, target)
    routes = routes_of(obj, adapter) or []
    chosen, skipped = select_routes(adapter, routes, route_name, target.label)
    report = read_policies(adapter, routes, chosen)
    output = {
        "mesh": adapter.mesh,
        "kind": adapter.kind,
        "api_version": adapter.group_version,
        "object": target.describe(obj),
        "virtual_service": target.via,
        "routes": report,
        "skipped_routes": skipped_report(skipped),
        "snapshot_saved": read_snapshot(obj, adapter.routes_field) is not None,
    }
    if any(entry["policy"] is None for entry in report):
        output["note"] = adapter.default_note
    warnings = object_warnings(kube, adapter, target.namespace, obj, report)
    if warnings:
        output["warnings"] = warnings
    return output, adapter


def get_retry_policy(
    name: str,
    namespace: str,
    mesh: str = "appmesh",
    route_name: str = None,
    api_version: str = "auto",
    virtual_router: str = None,
    kind: str = None,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Report the retry policy of each route of a mesh VirtualService.

    Same target arguments as chaoslitmus.mesh.actions.set_retry_policy
    (`name`, `namespace`, `mesh` "appmesh" | "istio", `api_version` "auto",
    `route_name`, `virtual_router` for App Mesh v1beta2). For each route:
    `policy` in the shared vocabulary (max_retries, per_retry_timeout_ms,
    http/tcp/grpc retry events, and `other_events` for Istio retryOn values
    with no shared name) or null when the route has none (the mesh default
    then applies: see `note`), and `raw`, the block exactly as stored.
    `snapshot_saved` tells whether a restore_retry_policy is pending.
    `mesh` "gateway-api" and "linkerd" (with `kind`) as in set_retry_policy;
    `warnings` lists what defeats a policy (an Istio route's injected
    `fault`, reported per route as `fault_warning`; a Linkerd ServiceProfile
    that overrides annotations).
    """
    cluster.check_target_args(
        name, namespace, mesh, api_version, virtual_router, route_name, kind=kind
    )
    output, _ = _read(
        name, namespace, mesh, api_version, route_name, virtual_router, secrets, kind
    )
    return output


def retry_policy_matches(
    name: str,
    namespace: str,
    mesh: str = "appmesh",
    max_retries: int = -1,
    per_retry_timeout_ms: int = 0,
    http_retry_events: List[str] = None,
    tcp_retry_events: List[str] = None,
    grpc_retry_events: List[str] = None,
    absent: bool = False,
    route_name: str = None,
    api_version: str = "auto",
    virtual_router: str = None,
    kind: str = None,
    secrets: Secrets = None,
) -> bool:
    """Whether every selected route has the expected retry policy.

    Use it with `"tolerance": true`. Only the fields you give are compared
    (`max_retries` -1 and `per_retry_timeout_ms` 0, the defaults, are not
    compared; events as sets, order does not matter); a route with no policy never
    matches. With `absent: true` (and no expected fields) it checks instead
    that no selected route has a retry policy, e.g. after a rollback of a
    service that had none. Target arguments as in get_retry_policy.
    """
    cluster.check_target_args(
        name, namespace, mesh, api_version, virtual_router, route_name, kind=kind
    )
    expected: Dict[str, Any] = {
        "max_retries": optional_int(
            None if max_retries in (-1, "-1") else max_retries, "max_retries", 0
        ),
        "per_retry_timeout_ms": optional_int(
            None if per_retry_timeout_ms in (0, "0") else per_retry_timeout_ms,
            "per_retry_timeout_ms",
            1,
        ),
    }
    for value, key, allowed in (
        (http_retry_events, "http_retry_events", HTTP_RETRY_EVENTS),
        (tcp_retry_events, "tcp_retry_events", TCP_RETRY_EVENTS),
        (grpc_retry_events, "grpc_retry_events", GRPC_RETRY_EVENTS),
    ):
        expected[key] = None if value is None else optional_events(value, key, allowed)
    given = {key: value for key, value in expected.items() if value is not None}
    absent = flag(absent, "absent")
    if absent and given:
        raise PolicyError(
            "invalid arguments: absent=true checks that there is no policy; "
            f"drop the expected fields ({', '.join(given)})"
        )
    found, adapter = _read(
        name, namespace, mesh, api_version, route_name, virtual_router, secrets, kind
    )
    results = []
    for entry in found["routes"]:
        raw = entry["raw"]
        if absent:
            ok = raw is None
        else:
            ok = raw is not None and policy_matches(adapter.to_policy(raw), **given)
        if not ok:
            logger.info("route %r: retry policy %s", entry["name"], entry["policy"])
        results.append(ok)
    return all(results)


def _mesh_policy(side: Any, what: str) -> tuple:
    """(mesh, policy) from one side of equivalent_policies, checked like a set."""
    if not isinstance(side, dict) or not isinstance(side.get("mesh"), str):
        raise PolicyError(
            f"invalid arguments: {what} must be an object with 'mesh' and the "
            f"policy fields of set_retry_policy (got {side!r})"
        )
    mesh, kind = side["mesh"], side.get("kind")
    if mesh not in cluster.MESH_VERSIONS:
        raise PolicyError(
            f"invalid arguments: {what}.mesh must be one of "
            f"{', '.join(cluster.MESH_VERSIONS)} (got {mesh!r})"
        )
    if kind == "serviceprofile":
        raise PolicyError(
            f"invalid arguments: {what}: ServiceProfile retries are budgeted, not "
            "counted, so they compare to no other mesh; use the annotations "
            "(kind='service')"
        )
    policy = make_policy(
        side.get("max_retries"),
        side.get("per_retry_timeout_ms"),
        side.get("http_retry_events"),
        side.get("tcp_retry_events"),
        side.get("grpc_retry_events"),
    )
    cluster.check_mesh_policy(mesh, policy, kind)
    return mesh, policy


def equivalent_policies(
    a: Dict[str, Any] = None, b: Dict[str, Any] = None
) -> Dict[str, Any]:
    """Whether two meshes' retry policies give callers the same view.

    For a migration (App Mesh to Istio, Gateway API or Linkerd): `a` and `b`
    are each `{"mesh": ..., "max_retries": ..., "per_retry_timeout_ms": ...,
    "http_retry_events": [...]}` (the arguments of set_retry_policy). Each is
    turned into what its mesh does with it (status codes retried, whether
    per-try timeouts and connection errors are retried, how the next endpoint
    is chosen...). Returns `equivalent`, the `differences` a setting can
    remove, the ones it cannot (`cannot_be_equal`, e.g. Linkerd's retries do
    not avoid the endpoint that failed) and what is `not_documented` for a
    mesh. No cluster is read. Facts: docs/mesh-behaviour.md.
    """
    mesh_a, policy_a = _mesh_policy(a, "a")
    mesh_b, policy_b = _mesh_policy(b, "b")
    return compare(mesh_a, policy_a, mesh_b, policy_b)
