# ruff: noqa: UP006, UP007, UP035, UP045
# chaoslib 1.44's discovery names only typing.List/Dict: keep them for `chaos discover`.
"""Change a service mesh's retry policy, and put it back exactly.

The same arguments work for AWS App Mesh (appmesh.k8s.aws v1beta1 and
v1beta2) and Istio (networking.istio.io v1, v1beta1, v1alpha3). The first
change records, in the annotation ``chaoslitmus.io/original-routes`` of the
edited object, the original retry block of every route it changes and the one
it wrote, so ``restore_retry_policy`` (use it as the rollback) puts back the
original retry settings, and only them, from any process, even after a crash:
a three-way merge that keeps what others changed since (see
:mod:`chaoslitmus.mesh.merge`).
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
from chaoslitmus.mesh.advisories import object_warnings
from chaoslitmus.mesh.budget import retry_budget_of
from chaoslitmus.mesh.crd_fields import check_retry_field
from chaoslitmus.mesh.merge import plan_restore, restore_message
from chaoslitmus.mesh.policy import flag, make_policy
from chaoslitmus.mesh.routes import (
    RouteError,
    apply_policy,
    clear_policy,
    select_routes,
    skipped_report,
)
from chaoslitmus.mesh.snapshot import (
    ChangePlan,
    conflict_message,
    plan_change,
    read_snapshot,
    restore_patch,
    routes_of,
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
    change: Optional[ChangePlan] = None,
    warnings: Optional[List[str]] = None,
) -> Dict[str, Any]:
    """The common shape of every action's output (JSON-friendly).

    ``snapshot``: "taken", "adopted" (a leftover one whose writes are still
    in place), "discarded-stale" (replaced, as asked) or "none".
    """
    adapter = target.adapter
    outcome = {
        "mesh": adapter.mesh,
        "kind": adapter.kind,
        "api_version": adapter.group_version,
        "object": target.describe(after),
        "virtual_service": target.via,
        "changed": changed,
        "snapshot": change.snapshot if change else "none",
        "routes": routes,
        "skipped_routes": skipped_report(skipped),
        "message": message,
    }
    if change and change.discarded:
        outcome["discarded_snapshot"] = change.discarded
    if change and change.deleted_routes:
        outcome["routes_gone_since_snapshot"] = change.deleted_routes
    if warnings:
        outcome["warnings"] = warnings
        for warning in warnings:
            logger.warning("%s: %s", target.label, warning)
    return outcome


# (routes, chosen routes) -> (new routes, per-route report)
RouteEdit = Callable[[list, list], tuple]


def _routes_changed_message(
    report: List[Dict[str, Any]], changed: str, unchanged: str, label: str
) -> str:
    """Log and return how many routes the edit changed (`changed`, a template
    with {count} and {label}) or that it changed none (`unchanged`)."""
    count = sum(1 for entry in report if entry["changed"])
    message = (changed if count else unchanged).format(count=count, label=label)
    logger.info(message)
    return message


def _change(
    kube: Kube,
    target: cluster.Target,
    route_name: Optional[str],
    edit_routes: RouteEdit,
    discard_stale: bool,
) -> tuple:
    """Shared read-select-edit-patch round for set and remove."""
    adapter = target.adapter
    taken_at, taken_by = cluster.stamp()

    def plan(obj: dict) -> cluster.Plan:
        routes = routes_of(obj, adapter) or []
        chosen, skipped = select_routes(adapter, routes, route_name, target.label)
        new_routes, report = edit_routes(routes, chosen)
        change = plan_change(
            obj, adapter, new_routes, taken_at, taken_by, discard_stale
        )
        return cluster.Plan(change.patch, (report, skipped, change))

    return cluster.edit(kube, target, plan)


def set_retry_policy(
    name: str,
    namespace: str,
    max_retries: int,
    per_retry_timeout_ms: int = 0,
    mesh: str = "appmesh",
    http_retry_events: List[str] = None,
    tcp_retry_events: List[str] = None,
    grpc_retry_events: List[str] = None,
    route_name: str = None,
    api_version: str = "auto",
    virtual_router: str = None,
    caller_timeout_ms: int = 0,
    discard_stale_snapshot: bool = False,
    kind: str = None,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Set a retry policy on the routes of a mesh VirtualService.

    `name` is the VirtualService (for App Mesh v1beta2 its VirtualRouter is
    found through spec.provider.virtualRouter; or name the router with
    `virtual_router`, and pass its name as `name` too to edit the router
    alone). `mesh` is "appmesh" or "istio"; `api_version="auto"`
    picks what the cluster serves (App Mesh: v1beta2, else v1beta1; Istio:
    v1, v1beta1, v1alpha3). `route_name` limits the change to one route
    (default: every route that can retry; TCP routes cannot and are listed
    as skipped). The policy: `max_retries` (retries after the first try),
    `per_retry_timeout_ms` (each try, the first included; required by App
    Mesh; 0, the default, leaves it unset), `http_retry_events`
    (server-error, gateway-error, client-error, stream-error),
    `tcp_retry_events` (connection-error), `grpc_retry_events`
    (cancelled, deadline-exceeded, internal, resource-exhausted, unavailable;
    gRPC routes only). Istio receives them as retries.attempts, perTryTimeout
    and retryOn (5xx, gateway-error, retriable-4xx, refused-stream,
    connect-failure, gRPC names).

    The first change records the original retry settings of the routes it
    changes (and what it wrote) in the annotation
    chaoslitmus.io/original-routes (`snapshot: "taken"`). A snapshot left by
    an earlier run (a crash, or an earlier set) is adopted (`"adopted"`) only
    when the routes still hold what that run wrote, so the rollback still
    goes back to the true original; otherwise this refuses and says how to
    restore it, or pass `discard_stale_snapshot=true` to drop it and start
    from the current routes (`"discarded-stale"`). Undo with
    restore_retry_policy (add it to the rollbacks). Returns, per route, the
    policy before and after. With `caller_timeout_ms` (how long the
    callers wait), the output adds `budget`: which retries can still help
    them (see `chaoslitmus.mesh.probes.retry_budget`).
    Other meshes (`kind` picks the object; see docs/mesh-behaviour.md):
    `mesh="gateway-api"`: an HTTPRoute's spec.rules[] (`name` is the
    HTTPRoute; events become retry.codes, per_retry_timeout_ms
    timeouts.backendRequest; the served CRD must have the retry field).
    `mesh="linkerd"`: `kind="service"` (default) or `"httproute"` (a route
    whose parent is a Service) take retry.linkerd.io/* annotations;
    `kind="serviceprofile"` (name: the Service's FQDN) sets isRetryable.
    What a mesh cannot express is refused, naming what it can.
    Docs: https://docs.aws.amazon.com/app-mesh/latest/userguide/routes.html
    https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRetry
    https://gateway-api.sigs.k8s.io/geps/gep-1731/
    https://linkerd.io/2-edge/reference/retries/
    """
    cluster.check_target_args(
        name, namespace, mesh, api_version, virtual_router, route_name, kind=kind
    )
    policy = make_policy(
        max_retries,
        None if per_retry_timeout_ms in (0, "0") else per_retry_timeout_ms,
        http_retry_events,
        tcp_retry_events,
        grpc_retry_events,
    )
    cluster.check_mesh_policy(mesh, policy, kind)
    budget = _budget(caller_timeout_ms, max_retries, per_retry_timeout_ms)
    discard = flag(discard_stale_snapshot, "discard_stale_snapshot")
    kube, target = cluster.connect(
        secrets, name, namespace, mesh, api_version, virtual_router, kind=kind
    )
    adapter = target.adapter
    check_retry_field(kube, adapter, policy)

    def edit_routes(routes: list, chosen: list) -> tuple:
        return apply_policy(adapter, routes, chosen, policy)

    before, after, plan = _change(kube, target, route_name, edit_routes, discard)
    report, skipped, change = plan.result
    message = _routes_changed_message(
        report,
        "retry policy set on {count} route(s) of {label}",
        "{label} already has this retry policy; nothing changed",
        target.label,
    )
    warnings = object_warnings(kube, adapter, target.namespace, after, report)
    outcome = _outcome(
        target,
        before,
        after,
        report,
        skipped,
        message,
        bool(plan.patch),
        change,
        warnings,
    )
    if budget is not None:
        logger.info("retry budget: %s", budget["sentence"])
        outcome["budget"] = budget
    return outcome


def _budget(
    caller_timeout_ms: Any, max_retries: Any, per_retry_timeout_ms: Any
) -> Optional[Dict[str, Any]]:
    """The policy's retry budget for callers that wait `caller_timeout_ms`."""
    if caller_timeout_ms in (None, 0):
        return None
    if max_retries is None or not per_retry_timeout_ms:
        raise ActivityFailed(
            "caller_timeout_ms needs max_retries and per_retry_timeout_ms to "
            "compute the retry budget"
        )
    try:
        return retry_budget_of(caller_timeout_ms, max_retries, per_retry_timeout_ms)
    except ValueError as exc:
        raise ActivityFailed(f"set_retry_policy: {exc}") from None


def remove_retry_policy(
    name: str,
    namespace: str,
    mesh: str = "appmesh",
    route_name: str = None,
    api_version: str = "auto",
    virtual_router: str = None,
    discard_stale_snapshot: bool = False,
    kind: str = None,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Delete the retry policy of a VirtualService's routes.

    Same target arguments as set_retry_policy. Note that no policy does not
    mean no retries: App Mesh (meshes since mid-2020) and Istio then apply
    their default retry policy (see the output's `note`); to test "no
    retries", set max_retries to 0 instead. The original retry settings are
    saved as with set_retry_policy (same snapshot rules and
    `discard_stale_snapshot`), so restore_retry_policy undoes this too.
    """
    cluster.check_target_args(
        name, namespace, mesh, api_version, virtual_router, route_name, kind=kind
    )
    discard = flag(discard_stale_snapshot, "discard_stale_snapshot")
    kube, target = cluster.connect(
        secrets, name, namespace, mesh, api_version, virtual_router, kind=kind
    )
    adapter = target.adapter

    def edit_routes(routes: list, chosen: list) -> tuple:
        return clear_policy(adapter, routes, chosen)

    before, after, plan = _change(kube, target, route_name, edit_routes, discard)
    report, skipped, change = plan.result
    message = _routes_changed_message(
        report,
        "retry policy removed from {count} route(s) of {label}",
        "no route of {label} had a retry policy; nothing changed",
        target.label,
    )
    outcome = _outcome(
        target, before, after, report, skipped, message, bool(plan.patch), change
    )
    outcome["note"] = adapter.default_note
    return outcome


def wait_for_retry_policy_applied(
    name: str,
    namespace: str,
    mesh: str = "appmesh",
    max_retries: int = -1,
    per_retry_timeout_ms: int = 0,
    http_retry_events: List[str] = None,
    tcp_retry_events: List[str] = None,
    grpc_retry_events: List[str] = None,
    route_name: str = None,
    api_version: str = "auto",
    virtual_router: str = None,
    timeout_s: float = 60,
    no_signal_wait_s: float = 0,
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
    `mesh="gateway-api"`: every `status.parents[]` entry of the HTTPRoute
    has `Accepted` and `ResolvedRefs` True with `observedGeneration` at the
    route's generation; a condition False for it fails at once with the
    controller's reason. `mesh="linkerd"` has no such signal (annotations
    and ServiceProfiles get no status): fails at once, saying so, unless
    `no_signal_wait_s` > 0 asks for a fixed wait there instead (then
    `propagation_s` is null, `evidence` says none, nothing is checked).
    See docs/mesh-behaviour.md ("When a route reaches Envoy").
    """
    from chaoslitmus.mesh.probes import retry_policy_matches
    from chaoslitmus.mesh.propagation import (
        fixed_wait,
        no_signal_message,
        wait_applied,
    )

    cluster.check_target_args(
        name, namespace, mesh, api_version, virtual_router, route_name
    )
    for arg, value in (
        ("timeout_s", timeout_s),
        ("no_signal_wait_s", no_signal_wait_s),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ActivityFailed(f"{arg} must be a number, got {value!r}")
    if timeout_s <= 0:
        raise ActivityFailed(f"timeout_s must be > 0, got {timeout_s!r}")
    if not 0 <= no_signal_wait_s <= timeout_s:
        raise ActivityFailed(
            f"no_signal_wait_s must be 0 to timeout_s ({timeout_s:g}), "
            f"got {no_signal_wait_s!r}"
        )
    label = f"'{name}' in namespace '{namespace}'"
    no_signal = no_signal_message(mesh, label)
    if no_signal is not None:
        if not no_signal_wait_s:
            raise ActivityFailed(no_signal)
        return {
            "mesh": mesh,
            "object": label,
            **fixed_wait(mesh, label, no_signal_wait_s),
        }
    expected = {
        "max_retries": max_retries,
        "per_retry_timeout_ms": per_retry_timeout_ms,
        "http_retry_events": http_retry_events,
        "tcp_retry_events": tcp_retry_events,
        "grpc_retry_events": grpc_retry_events,
    }
    unset = {"max_retries": -1, "per_retry_timeout_ms": 0}
    given = {k: v for k, v in expected.items() if v is not None and v != unset.get(k)}
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
    name: str,
    namespace: str,
    mesh: str = "appmesh",
    api_version: str = "auto",
    virtual_router: str = None,
    force: bool = False,
    kind: str = None,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Put back the original retry settings saved by the first change.

    Same target arguments as set_retry_policy (no route_name: every route the
    snapshot names). A three-way merge per route: where the retry settings are
    still what we wrote, the original ones come back; everything else stays as
    it is now (routes others added, weights, matches) and is reported as
    `drift`. If someone else changed the retry settings we wrote, nothing is
    changed and the error says what changed and by whom (managedFields); pass
    `force=true` to put the original retry settings back anyway. A route that
    was deleted has nothing to restore (reported). The chaoslitmus.io
    annotation is removed. Works from any process: the snapshot lives on the
    object. With no snapshot it changes nothing and says so
    (`restored: false`), so it is safe as a rollback that may run twice. If
    an App Mesh v1beta2 VirtualService was deleted, name the router with
    `virtual_router`.
    """
    cluster.check_target_args(
        name, namespace, mesh, api_version, virtual_router, kind=kind
    )
    forced = flag(force, "force")
    kube, target = cluster.connect(
        secrets, name, namespace, mesh, api_version, virtual_router, kind=kind
    )
    adapter = target.adapter
    field = adapter.routes_field

    def plan(obj: dict) -> cluster.Plan:
        snapshot = read_snapshot(obj, field)
        if snapshot is None:
            return cluster.Plan(None, None)
        current = routes_of(obj, adapter)
        merged = plan_restore(adapter, snapshot.saved(adapter), current or [], forced)
        if merged.conflicts and not forced:
            raise RouteError(conflict_message(obj, field, merged.conflicts))
        routes = None if current is None else merged.routes
        return cluster.Plan(restore_patch(obj, field, routes, adapter), merged)

    before, after, planned = cluster.edit(kube, target, plan)
    merged = planned.result
    restored = planned.patch is not None
    message = restore_message(target.label, merged)
    if merged is not None and merged.drift:
        logger.warning(message)
    else:
        logger.info(message)
    outcome = _outcome(
        target, before, after, merged.report if merged else [], [], message, restored
    )
    outcome["restored"] = restored
    outcome["snapshot"] = "removed" if restored else "none"
    outcome["drift"] = merged.drift.to_dict() if merged else None
    outcome["forced"] = [c["name"] for c in merged.conflicts] if merged else []
    return outcome
