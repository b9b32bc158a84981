"""Has a changed route reached the callers' Envoy? Read the controller's word.

The API server accepts a VirtualService/VirtualRouter patch at once; the
proxies get the route later (istiod debounces pushes, up to 10 s; App Mesh
goes through its own control plane). The best signal each mesh gives
through the Kubernetes API is the status its controller writes on the
object: `status.observedGeneration` catching up with `metadata.generation`,
with the controller's condition (`Reconciled` for istiod with status
reporting on, `<Kind>Active` for the App Mesh controller) True
(docs/mesh-behaviour.md, "When a route reaches Envoy").

A Gateway API HTTPRoute has no top-level observedGeneration: each
implementation writes one `status.parents[]` entry per parent it serves,
whose `Accepted` and `ResolvedRefs` conditions carry their own
`observedGeneration`. Linkerd's retry settings are annotations, which do
not move `metadata.generation`, on objects whose status (if any) says
nothing about them: there is no signal to wait for.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from chaoslib.exceptions import ActivityFailed

__all__ = [
    "applied_evidence",
    "fixed_wait",
    "no_signal_message",
    "no_signal_hint",
    "parents_evidence",
    "wait_applied",
]

logger = logging.getLogger("chaostoolkit.litmus.mesh")

POLL_S = 0.2
PROGRESS_EVERY_S = 10.0
# Without any status from a controller after this long, there is no signal.
NO_SIGNAL_AFTER_S = 10.0
CONDITIONS = (
    "Reconciled",
    "VirtualRouterActive",
    "VirtualServiceActive",
    "VirtualNodeActive",
)


ROUTE_CONDITIONS = ("Accepted", "ResolvedRefs")


class RouteRejected(ActivityFailed):
    """A Gateway API controller observed this generation and refused it."""


def parents_evidence(obj: dict) -> tuple[str | None, bool]:
    """(evidence, has_signal) from a Gateway API route's `status.parents[]`:
    evidence once every parent entry has `Accepted` and `ResolvedRefs` True
    for the current generation. A condition False for the current generation
    is a refusal: raises RouteRejected with the controller's reason."""
    generation = int((obj.get("metadata") or {}).get("generation") or 1)
    parents = (obj.get("status") or {}).get("parents") or []
    if not parents:
        return None, False
    named = []
    for parent in parents:
        ref = parent.get("parentRef") or {}
        who = f"{ref.get('kind') or 'Gateway'}/{ref.get('name')}"
        by = parent.get("controllerName") or "an unnamed controller"
        conditions = {
            c.get("type"): c
            for c in parent.get("conditions") or []
            if c.get("type") in ROUTE_CONDITIONS
        }
        for wanted in ROUTE_CONDITIONS:
            condition = conditions.get(wanted)
            if condition is None:
                return None, True
            seen = condition.get("observedGeneration")
            if seen is None or int(seen) < generation:
                return None, True
            if condition.get("status") != "True":
                raise RouteRejected(
                    f"{by} did not accept generation {generation} for parent "
                    f"{who}: {wanted}={condition.get('status')} "
                    f"({condition.get('reason')}: {condition.get('message') or '-'})"
                )
        named.append(f"{who} by {by}")
    return (
        f"status.parents[] Accepted=True, ResolvedRefs=True at observedGeneration "
        f">= {generation} ({'; '.join(named)})",
        True,
    )


# Meshes whose retry settings no controller reports on.
NO_SIGNAL_MESHES = ("linkerd",)


def no_signal_message(mesh: str, label: str) -> str | None:
    """One line saying there is nothing to wait for, or None if there is."""
    if mesh not in NO_SIGNAL_MESHES:
        return None
    return (
        f"no propagation signal for Linkerd's retry settings on {label}: they "
        "are annotations (or a ServiceProfile), which no controller reports on; "
        "wait a fixed time instead (no_signal_wait_s=5, or a pause after "
        "set_retry_policy) and check retry_stats"
    )


def fixed_wait(mesh: str, label: str, wait_s: float) -> dict:
    """No signal, but the caller asked for a fixed wait: wait and say so."""
    logger.info("no propagation signal on %s; waiting a fixed %gs", mesh, wait_s)
    time.sleep(wait_s)
    return {
        "propagation_s": None,
        "evidence": f"none: {mesh} has no propagation signal; waited a fixed "
        f"{wait_s:g}s",
        "fixed_wait_s": wait_s,
    }


def applied_evidence(obj: dict) -> tuple[str | None, bool]:
    """(evidence, has_signal): evidence is set once the object's current
    generation is observed and its controller condition (if any) is True."""
    if obj.get("kind") == "HTTPRoute":
        return parents_evidence(obj)
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    generation = int(meta.get("generation") or 1)
    observed = status.get("observedGeneration")
    conditions = [
        c for c in status.get("conditions") or [] if c.get("type") in CONDITIONS
    ]
    has_signal = observed is not None or bool(conditions)
    if observed is None or int(observed) < generation:
        return None, has_signal
    if any(c.get("status") != "True" for c in conditions):
        return None, has_signal
    named = ", ".join(f"{c['type']}=True" for c in conditions)
    evidence = f"status.observedGeneration={observed} (generation {generation})"
    return (evidence + (f", {named}" if named else "")), True


def observed_of(obj: dict) -> Any:
    """The generation the controller last observed (for messages): the
    oldest one over a route's parents' conditions."""
    status = obj.get("status") or {}
    if obj.get("kind") != "HTTPRoute":
        return status.get("observedGeneration")
    seen = [
        c.get("observedGeneration")
        for p in status.get("parents") or []
        for c in p.get("conditions") or []
        if c.get("type") in ROUTE_CONDITIONS
    ]
    return min((int(g) for g in seen if g is not None), default=None)


def no_signal_hint(mesh: str) -> str:
    if mesh == "gateway-api":
        return (
            "no Gateway API implementation has written status.parents: is one "
            "running, and does the route's parentRef name its Gateway or Service?"
        )
    if mesh == "istio":
        return (
            "istiod writes status only with status reporting on "
            "(PILOT_ENABLE_STATUS=true, values.pilot.env)"
        )
    return "is the App Mesh controller (appmesh-controller) running?"


def wait_applied(read: Any, label: str, mesh: str, timeout_s: float) -> dict:
    """Poll `read()` (the object) until the controller says it is applied."""
    began = time.monotonic()
    deadline = began + timeout_s
    last_note = began
    obj: dict = {}
    while True:
        obj = read()
        evidence, has_signal = applied_evidence(obj)
        now = time.monotonic()
        if evidence is not None:
            return {
                "propagation_s": round(now - began, 3),
                "evidence": evidence,
                "generation": (obj.get("metadata") or {}).get("generation"),
            }
        if not has_signal and now - began >= min(NO_SIGNAL_AFTER_S, timeout_s):
            raise ActivityFailed(
                f"no propagation signal for {label}: its status has no "
                f"observedGeneration, controller condition nor parents; "
                f"{no_signal_hint(mesh)}"
            )
        if now >= deadline:
            raise ActivityFailed(
                f"{label} not applied within {timeout_s:g}s: generation "
                f"{(obj.get('metadata') or {}).get('generation')}, observed "
                f"{observed_of(obj)}; {no_signal_hint(mesh)}"
            )
        if now - last_note >= PROGRESS_EVERY_S:
            last_note = now
            logger.info(
                "waiting for %s to reach the proxies: generation %s, observed %s "
                "(%.0fs of %gs)",
                label,
                (obj.get("metadata") or {}).get("generation"),
                observed_of(obj),
                now - began,
                timeout_s,
            )
        time.sleep(min(POLL_S, max(0.0, deadline - now)))
