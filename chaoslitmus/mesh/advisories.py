"""Warnings that belong in an activity's output: things that defeat a policy.

* Istio: a VirtualService ``fault`` on the route is injected by the caller's
  sidecar before its router, so it is never retried (istio#13705).
* Linkerd: a ServiceProfile for the Service overrides every retry and timeout
  annotation.
* Linkerd ServiceProfile: retries are budgeted, not counted.

Sources: docs/mesh-behaviour.md ("Istio: faults and retries on one route",
"Linkerd retries").
"""

from __future__ import annotations

from typing import Any

from chaoslitmus.k8s import Kube, KubeError, NotFound
from chaoslitmus.mesh.routes import Adapter

__all__ = ["object_warnings", "service_profile_name"]

SERVICEPROFILE = ("linkerd.io", "v1alpha2", "serviceprofiles")


def service_profile_name(service: str, namespace: str) -> str:
    """A ServiceProfile is named after its Service's FQDN."""
    return f"{service}.{namespace}.svc.cluster.local"


def _linkerd_service(adapter: Adapter, obj: dict, namespace: str) -> tuple | None:
    """(Service, namespace) whose ServiceProfile would override the annotations."""
    meta = obj.get("metadata") or {}
    if adapter.kind == "Service":
        return meta.get("name"), namespace
    if adapter.kind == "HTTPRoute" and adapter.read_routes is not None:
        from chaoslitmus.mesh.linkerd import service_parent

        parent = service_parent(obj)
        if parent and parent.get("name"):
            return parent["name"], parent.get("namespace") or namespace
    return None


def _profile_exists(kube: Kube, name: str, namespace: str) -> bool:
    profiles = kube.resource(*SERVICEPROFILE, namespace)
    if not profiles.served():
        return False
    try:
        profiles.get(name)
    except NotFound:
        return False
    except KubeError:
        return False  # cannot tell (RBAC): say nothing rather than guess
    return True


def object_warnings(
    kube: Kube,
    adapter: Adapter,
    namespace: str,
    obj: dict,
    routes: list[dict[str, Any]],
) -> list[str]:
    """Every warning for this object and its reported routes (may read the API)."""
    warnings = [
        f"route {entry['name']!r}: {entry['fault_warning']}"
        for entry in routes
        if entry.get("fault_warning")
    ]
    if adapter.mesh != "linkerd":
        return warnings
    if adapter.kind == "ServiceProfile":
        budget = (obj.get("spec") or {}).get("retryBudget")
        shown = budget if isinstance(budget, dict) else "the default 0.2/10 per s/10s"
        warnings.append(
            f"ServiceProfile retries are budgeted, not counted: max_retries only "
            f"turns isRetryable on or off; retryBudget {shown} limits retries"
        )
        return warnings
    found = _linkerd_service(adapter, obj, namespace)
    if found:
        service, service_namespace = found
        profile = service_profile_name(service, service_namespace)
        if _profile_exists(kube, profile, service_namespace):
            warnings.append(
                f"ServiceProfile '{profile}' exists in namespace "
                f"'{service_namespace}': Linkerd proxies use its retries and "
                "timeouts and ignore these annotations; delete it or set the policy "
                "with kind='serviceprofile'"
            )
    return warnings
