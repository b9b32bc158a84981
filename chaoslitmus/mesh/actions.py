# ruff: noqa: UP006, UP007, UP035, UP045
# chaoslib 1.44's discovery names only typing.List/Dict: keep them for `chaos discover`.
"""Change a service mesh's retry policy, and put it back exactly.

The same arguments work for AWS App Mesh (appmesh.k8s.aws v1beta1 and
v1beta2) and Istio (networking.istio.io v1, v1beta1, v1alpha3). The first
change saves the original route list in the annotation
``chaoslitmus.io/original-routes`` of the edited object, so
``restore_retry_policy`` (use it as the rollback) restores it byte for byte,
from any process, even after a crash.
"""

__all__ = [
    "remove_retry_policy",
    "restore_retry_policy",
    "set_retry_policy",
    "wait_for_retry_policy_applied",
]

import logging
from collections.abc import Callable
from typing import Any, Dict, List, Optional

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Secrets

from chaoslitmus.k8s import Kube
from chaoslitmus.mesh import cluster
from chaoslitmus.mesh.budget import retry_budget_of
from chaoslitmus.mesh.policy import make_policy
from chaoslitmus.mesh.routes import (
    apply_policy,
    clear_policy,
    compare_policies,
    select_routes,
    skipped_report,
)
from chaoslitmus.mesh.snapshot import (
    change_patch,
    current_routes,
    read_snapshot,
    restore_patch,
)

logger = logging.getLogger("chaostoolkit.litmus.mesh")


def _outcome(
    target: cluster.Target,
    before: dict,
    after: dict,
    routes: list,
    skipped: list,
    message: str,
    changed: bool,
) -> Dict[str, Any]:
    """The common shape of every action's output (JSON-friendly)."""
    adapter = target.adapter
    had = read_snapshot(before, adapter.routes_field) is not None
    has = read_snapshot(after, adapter.routes_field) is not None
    return {
        "mesh": adapter.mesh,
        "api_version": adapter.group_version,
        "object": target.describe(after),
        "virtual_service": target.via,
        "changed": changed,
        "snapshot": "kept" if had and has else "saved" if has else "none",
        "routes": routes,
        "skipped_routes": skipped_report(skipped),
        "message": message,
    }


# (routes, chosen routes) -> (new routes, per-route report)
RouteEdit = Callable[[list, list], tuple]


def _change(
    kube: Kube,
    target: cluster.Target,
    route_name: Optional[str],
    edit_routes: RouteEdit,
) -> tuple:
    """Shared read-select-edit-patch round for set and remove."""
    adapter = target.adapter

    def plan(obj: dict) -> cluster.Plan:
        routes = current_routes(obj, adapter.routes_field) or []
        chosen, skipped = select_routes(adapter, routes, route_name, target.label)
        new_routes, report = edit_routes(routes, chosen)
        body = (
            None
            if new_routes == routes
            else change_patch(obj, adapter.routes_field, new_routes)
        )
        return cluster.Plan(body, (report, skipped))

    return cluster.edit(kube, target, plan)


def set_retry_policy(
    name: str = None,
    namespace: str = "default",
    mesh: str = "appmesh",
    max_retries: int = None,
    per_retry_timeout_ms: int = None,
    http_retry_events: List[str] = None,
    tcp_retry_events: List[str] = None,
    grpc_retry_events: List[str] = None,
    route_name: str = None,
    api_version: str = "auto",
    virtual_router: str = None,
    caller_timeout_ms: int = None,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Set a retry policy on the routes of a mesh VirtualService.

    `name` is the VirtualService (for App Mesh v1beta2 its VirtualRouter is
    found through spec.provider.virtualRouter; or name the router with
    `virtual_router`). `mesh` is "appmesh" or "istio"; `api_version="auto"`
    picks what the cluster serves (App Mesh: v1beta2, else v1beta1; Istio:
    v1, v1beta1, v1alpha3). `route_name` limits the change to one route
    (default: every route that can retry; TCP routes cannot and are listed
    as skipped). The policy: `max_retries` (retries after the first try),
    `per_retry_timeout_ms` (each try, the first included; required by App
    Mesh), `http_retry_events` (server-error, gateway-error, client-error,
    stream-error), `tcp_retry_events` (connection-error), `grpc_retry_events`
    (cancelled, deadline-exceeded, internal, resource-exhausted, unavailable;
    gRPC routes only). Istio receives them as retries.attempts, perTryTimeout
    and retryOn (5xx, gateway-error, retriable-4xx, refused-stream,
    connect-failure, gRPC names).

    The first change saves the original routes in the annotation
    chaoslitmus.io/original-routes; a later set keeps that first snapshot.
    Undo with restore_retry_policy (add it to the rollbacks). Returns, per
    route, the policy before and after. With `caller_timeout_ms` (how long
    the callers wait), the output adds `budget`: which retries can still
    help them (see `chaoslitmus.mesh.probes.retry_budget`).
    Docs: https://docs.aws.amazon.com/app-mesh/latest/userguide/routes.html
    https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRetry
    """
    cluster.check_target_args(
        name, namespace, mesh, api_version, virtual_router, route_name
    )
    policy = make_policy(
        max_retries,
        per_retry_timeout_ms,
        http_retry_events,
        tcp_retry_events,
        grpc_retry_events,
    )
    cluster.check_mesh_policy(mesh, policy)
    budget = _budget(caller_timeout_ms, max_retries, per_retry_timeout_ms)
    kube, target = cluster.connect(
        secrets, name, namespace, mesh, api_version, virtual_router
    )
    adapter = target.adapter

    def edit_routes(routes: list, chosen: list) -> tuple:
        return apply_policy(adapter, routes, chosen, policy)

    before, after, plan = _change(kube, target, route_name, edit_routes)
    report, skipped = plan.result
    count = sum(1 for entry in report if entry["changed"])
    message = (
        f"retry policy set on {count} route(s) of {target.label}"
        if count
        else f"{target.label} already has this retry policy; nothing changed"
    )
    logger.info(message)
    changed = bool(plan.patch)
    outcome = _outcome(target, before, after, report, skipped, message, changed)
    if budget is not None:
        logger.info("retry budget: %s", budget["sentence"])
        outcome["budget"] = budget
    return outcome


def _budget(
    caller_timeout_ms: Any, max_retries: Any, per_retry_timeout_ms: Any
) -> Optional[Dict[str, Any]]:
    """The policy's retry budget for callers that wait `caller_timeout_ms`."""
    if caller_timeout_ms is None:
        return None
    if max_retries is None or per_retry_timeout_ms is None:
        raise ActivityFailed(
            "caller_timeout_ms needs max_retries and per_retry_timeout_ms to "
            "compute the retry budget"
        )
    try:
        return retry_budget_of(caller_timeout_ms, max_retries, per_retry_timeout_ms)
    except ValueError as exc:
        raise ActivityFailed(f"set_retry_policy: {exc}") from None


def remove_retry_policy(
    name: str = None,
    namespace: str = "default",
    mesh: str = "appmesh",
    route_name: str = None,
    api_version: str = "auto",
    virtual_router: str = None,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Delete the retry policy of a VirtualService's routes.

    Same target arguments as set_retry_policy. Note that no policy does not
    mean no retries: App Mesh (meshes since mid-2020) and Istio then apply
    their default retry policy (see the output's `note`); to test "no
    retries", set max_retries to 0 instead. The original routes are saved as
    with set_retry_policy, so restore_retry_policy undoes this too.
    """
    cluster.check_target_args(
        name, namespace, mesh, api_version, virtual_router, route_name
    )
    kube, target = cluster.connect(
        secrets, name, namespace, mesh, api_version, virtual_router
    )
    adapter = target.adapter

    def edit_routes(routes: list, chosen: list) -> tuple:
        return clear_policy(adapter, routes, chosen)

    before, after, plan = _change(kube, target, route_name, edit_routes)
    report, skipped = plan.result
    count = sum(1 for entry in report if entry["changed"])
    message = (
        f"retry policy removed from {count} route(s) of {target.label}"
        if count
        else f"no route of {target.label} had a retry policy; nothing changed"
    )
    logger.info(message)
    outcome = _outcome(
        target, before, after, report, skipped, message, bool(plan.patch)
    )
    outcome["note"] = adapter.default_note
    return outcome


def wait_for_retry_policy_applied(
    name: str = None,
    namespace: str = "default",
    mesh: str = "appmesh",
    max_retries: int = None,
    per_retry_timeout_ms: int = None,
    http_retry_events: List[str] = None,
    tcp_retry_events: List[str] = None,
    grpc_retry_events: List[str] = None,
    route_name: str = None,
    api_version: str = "auto",
    virtual_router: str = None,
    timeout_s: float = 60,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Wait until the mesh's control plane says the route is in the proxies.

    The API accepts `set_retry_policy`'s patch at once; the callers' Envoy
    gets it later (istiod up to 10 s, App Mesh through its own control
    plane). Returns once the object's controller has observed its current
    generation (`status.observedGeneration`, with `Reconciled` (Istio) or
    `<Kind>Active` (App Mesh) True), with `propagation_s` and `evidence`.
    Same addressing arguments as `set_retry_policy`; give the policy fields
    to check first that the object carries that policy (leave them out after
    `restore_retry_policy`). Fails with one line when no controller writes
    any status (no signal) or at `timeout_s`.
    See docs/mesh-behaviour.md ("When a route reaches Envoy").
    """
    from chaoslitmus.mesh.probes import retry_policy_matches
    from chaoslitmus.mesh.propagation import wait_applied

    cluster.check_target_args(
        name, namespace, mesh, api_version, virtual_router, route_name
    )
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)):
        raise ActivityFailed(f"timeout_s must be a number, got {timeout_s!r}")
    if timeout_s <= 0:
        raise ActivityFailed(f"timeout_s must be > 0, got {timeout_s!r}")
    expected = {
        "max_retries": max_retries,
        "per_retry_timeout_ms": per_retry_timeout_ms,
        "http_retry_events": http_retry_events,
        "tcp_retry_events": tcp_retry_events,
        "grpc_retry_events": grpc_retry_events,
    }
    given = {k: v for k, v in expected.items() if v is not None}
    where = dict(
        name=name,
        namespace=namespace,
        mesh=mesh,
        route_name=route_name,
        api_version=api_version,
        virtual_router=virtual_router,
        secrets=secrets,
    )
    if given and not retry_policy_matches(**where, **given):
        raise ActivityFailed(
            f"{name or virtual_router} in {namespace!r} does not carry the expected "
            f"retry policy ({', '.join(f'{k}={v}' for k, v in given.items())}): "
            "run set_retry_policy first"
        )
    kube, target = cluster.connect(
        secrets, name, namespace, mesh, api_version, virtual_router
    )
    outcome = wait_applied(
        lambda: cluster.read(kube, target), target.label, mesh, timeout_s
    )
    logger.info(
        "%s applied after %.1fs (%s)",
        target.label,
        outcome["propagation_s"],
        outcome["evidence"],
    )
    return {"mesh": mesh, "object": target.label, **outcome}


def restore_retry_policy(
    name: str = None,
    namespace: str = "default",
    mesh: str = "appmesh",
    api_version: str = "auto",
    virtual_router: str = None,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Put back the routes saved before the first retry-policy change.

    Same target arguments as set_retry_policy (no route_name: the whole saved
    route list comes back, as it was, and the chaoslitmus.io annotations are
    removed). Works from any process: the snapshot lives on the object. With
    no snapshot it changes nothing and says so (`restored: false`), so it is
    safe as a rollback that may run twice. Changes made to the routes by
    others since the first change are overwritten.
    """
    cluster.check_target_args(name, namespace, mesh, api_version, virtual_router)
    kube, target = cluster.connect(
        secrets, name, namespace, mesh, api_version, virtual_router
    )
    adapter = target.adapter

    def plan(obj: dict) -> cluster.Plan:
        snapshot = read_snapshot(obj, adapter.routes_field)
        if snapshot is None:
            return cluster.Plan(None, [])
        current = current_routes(obj, adapter.routes_field)
        report = compare_policies(adapter, current, snapshot.routes)
        return cluster.Plan(restore_patch(obj, snapshot), report)

    before, after, planned = cluster.edit(kube, target, plan)
    restored = planned.patch is not None
    message = (
        f"original routes of {target.label} restored"
        if restored
        else f"nothing to restore: {target.label} has no saved routes "
        "(no change was made, or it was already restored)"
    )
    logger.info(message)
    outcome = _outcome(target, before, after, planned.result, [], message, restored)
    outcome["restored"] = restored
    outcome["snapshot"] = "removed" if restored else "none"
    return outcome
