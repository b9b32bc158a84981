"""How a mesh controller says "your change is in the data plane": the
status it writes on the mesh object once the proxies have the route.

App Mesh's controller (aws-app-mesh-controller-for-k8s) sets
`status.observedGeneration` and a `<Kind>Active` condition; istiod with
status reporting on (`PILOT_ENABLE_STATUS`) sets `status.observedGeneration`
and a `Reconciled` condition once the config is distributed
(docs/mesh-behaviour.md, "When a route reaches Envoy"). A Gateway API
HTTPRoute gets instead one `status.parents[]` entry per parentRef, written
by the implementation (its `controllerName`), with `Accepted` and
`ResolvedRefs` conditions carrying the observed generation; Linkerd's
policy controller does the same for its HTTPRoutes, and nothing writes a
ServiceProfile's status. Pure helpers; the lab's MeshSync writes them after
`--mesh-propagation-ms`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CONTROLLER_NAMES", "condition_type", "observed_status", "parents_status"]

# Who writes an HTTPRoute's status.parents[] (controllerName), per lab
# flavour / Gateway API implementation, for a Service parent (GAMMA).
CONTROLLER_NAMES = {
    "envoy-gateway": "gateway.envoyproxy.io/gatewayclass-controller",
    "istio": "istio.io/mesh-controller",
    "linkerd": "linkerd.io/policy-controller",
}
ROUTE_CONDITIONS = (("Accepted", "Accepted"), ("ResolvedRefs", "ResolvedRefs"))


def condition_type(flavour: str, kind: str) -> str:
    """The condition the mesh's controller uses for one kind of object."""
    if flavour == "istio":
        return "Reconciled"
    return {
        "VirtualService": "VirtualServiceActive",
        "VirtualRouter": "VirtualRouterActive",
        "VirtualNode": "VirtualNodeActive",
    }.get(kind, f"{kind}Active")


def parents_status(
    status: dict[str, Any],
    parent_refs: list[dict[str, Any]],
    controller: str,
    generation: int,
    now: str,
) -> bool:
    """A route's status.parents[] saying `generation` is accepted by
    `controller` for each parentRef (in place); False when already so."""
    before = status.get("parents") or []
    previous = {
        repr(sorted((p.get("parentRef") or {}).items())): p
        for p in before
        if p.get("controllerName") == controller
    }
    parents = []
    for ref in parent_refs:
        old = previous.get(repr(sorted(ref.items())), {})
        old_conditions = {c.get("type"): c for c in old.get("conditions") or []}
        conditions = []
        for kind, reason in ROUTE_CONDITIONS:
            prior = old_conditions.get(kind) or {}
            conditions.append(
                {
                    "type": kind,
                    "status": "True",
                    "reason": reason,
                    "message": "Route is accepted"
                    if kind == "Accepted"
                    else "Resolved all the Object references for the Route",
                    "observedGeneration": generation,
                    "lastTransitionTime": prior.get("lastTransitionTime")
                    if prior.get("status") == "True"
                    else now,
                }
            )
        parents.append(
            {
                "parentRef": dict(ref),
                "controllerName": controller,
                "conditions": conditions,
            }
        )
    others = [p for p in before if p.get("controllerName") != controller]
    if before == others + parents:
        return False
    status["parents"] = others + parents
    return True


def observed_status(
    status: dict[str, Any],
    flavour: str,
    kind: str,
    generation: int,
    now: str,
    spec: dict[str, Any] | None = None,
    implementation: str = "envoy-gateway",
) -> bool:
    """Mark `generation` as applied in a mesh object's status (in place);
    False when there is nothing to write (already so, or no status kept)."""
    if kind == "ServiceProfile":
        return False
    if kind == "HTTPRoute":
        controller = CONTROLLER_NAMES[
            "linkerd" if flavour == "linkerd" else implementation
        ]
        refs = (spec or {}).get("parentRefs") or []
        return parents_status(status, refs, controller, generation, now)
    if status.get("observedGeneration") == generation:
        return False
    wanted = condition_type(flavour, kind)
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != wanted]
    previous = next(
        (c for c in status.get("conditions") or [] if c.get("type") == wanted), {}
    )
    changed_at = (
        previous.get("lastTransitionTime") if previous.get("status") == "True" else now
    )
    conditions.append(
        {"type": wanted, "status": "True", "lastTransitionTime": changed_at or now}
    )
    status["conditions"] = conditions
    status["observedGeneration"] = generation
    return True
