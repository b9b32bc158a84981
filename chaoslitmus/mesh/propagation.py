"""Has a changed route reached the callers' Envoy? Read the controller's word.

The API server accepts a VirtualService/VirtualRouter patch at once; the
proxies get the route later (istiod debounces pushes, up to 10 s; App Mesh
goes through its own control plane). The best signal each mesh gives
through the Kubernetes API is the status its controller writes on the
object: `status.observedGeneration` catching up with `metadata.generation`,
with the controller's condition (`Reconciled` for istiod with status
reporting on, `<Kind>Active` for the App Mesh controller) True
(docs/mesh-behaviour.md, "When a route reaches Envoy").
"""

from __future__ import annotations

import logging
import time
from typing import Any

from chaoslib.exceptions import ActivityFailed

__all__ = ["applied_evidence", "no_signal_hint", "wait_applied"]

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


def applied_evidence(obj: dict) -> tuple[str | None, bool]:
    """(evidence, has_signal): evidence is set once the object's current
    generation is observed and its controller condition (if any) is True."""
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


def no_signal_hint(mesh: str) -> str:
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
                f"observedGeneration nor controller condition; {no_signal_hint(mesh)}"
            )
        if now >= deadline:
            status = obj.get("status") or {}
            raise ActivityFailed(
                f"{label} not applied within {timeout_s:g}s: generation "
                f"{(obj.get('metadata') or {}).get('generation')}, observed "
                f"{status.get('observedGeneration')}; {no_signal_hint(mesh)}"
            )
        if now - last_note >= PROGRESS_EVERY_S:
            last_note = now
            logger.info(
                "waiting for %s to reach the proxies: generation %s, observed %s "
                "(%.0fs of %gs)",
                label,
                (obj.get("metadata") or {}).get("generation"),
                (obj.get("status") or {}).get("observedGeneration"),
                now - began,
                timeout_s,
            )
        time.sleep(min(POLL_S, max(0.0, deadline - now)))
