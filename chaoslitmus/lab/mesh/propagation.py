"""How a mesh controller says "your change is in the data plane": the
status it writes on the mesh object once the proxies have the route.

App Mesh's controller (aws-app-mesh-controller-for-k8s) sets
`status.observedGeneration` and a `<Kind>Active` condition; istiod with
status reporting on (`PILOT_ENABLE_STATUS`) sets `status.observedGeneration`
and a `Reconciled` condition once the config is distributed
(docs/mesh-behaviour.md, "When a route reaches Envoy"). Pure helpers; the
lab's MeshSync writes them after `--mesh-propagation-ms`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["condition_type", "observed_status"]


def condition_type(flavour: str, kind: str) -> str:
    """The condition the mesh's controller uses for one kind of object."""
    if flavour == "istio":
        return "Reconciled"
    return {
        "VirtualService": "VirtualServiceActive",
        "VirtualRouter": "VirtualRouterActive",
        "VirtualNode": "VirtualNodeActive",
    }.get(kind, f"{kind}Active")


def observed_status(
    status: dict[str, Any], flavour: str, kind: str, generation: int, now: str
) -> None:
    """Mark `generation` as applied in a mesh object's status (in place)."""
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
