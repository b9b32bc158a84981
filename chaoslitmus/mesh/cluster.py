"""The I/O edge of the mesh activities: find the object, change it safely.

Everything that talks to Kubernetes for ``chaoslitmus.mesh`` is here, through
:class:`chaoslitmus.k8s.Kube`. Edits are read-modify-write merge patches that
carry ``metadata.resourceVersion``: if anyone else wrote the object in between,
the apiserver answers 409 and we read again, a few times, then give up clearly.
A patch whose answer was lost is judged by reading the object: either it shows
our patch applied to the version we read (done), or it does not (edit again).
Each patch is one atomic write, so the object is always the whole "before" or
the whole "after", never a mix.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaoslitmus import _args
from chaoslitmus._mergepatch import patch_landed
from chaoslitmus.k8s import (
    CRD_HINTS,
    MAYBE_APPLIED,
    Conflict,
    Kube,
    KubeError,
    NotFound,
    Resource,
    kube_error,
)
from chaoslitmus.mesh import appmesh_common, appmesh_v1beta1, appmesh_v1beta2, istio
from chaoslitmus.mesh.managed_fields import FIELD_MANAGER
from chaoslitmus.mesh.policy import PolicyError, RetryPolicy
from chaoslitmus.mesh.routes import Adapter
from chaoslitmus.mesh.snapshot import ORIGINAL_ROUTES

__all__ = [
    "CONFLICT_ATTEMPTS",
    "MESH_VERSIONS",
    "Plan",
    "Target",
    "check_mesh_policy",
    "check_target_args",
    "connect",
    "edit",
    "locate",
    "read",
    "resolve_adapter",
    "stamp",
]

logger = logging.getLogger("chaostoolkit.litmus.mesh")

# Reads + writes tried before a conflicting writer makes us give up.
CONFLICT_ATTEMPTS = 5

# Preferred version first: "auto" takes the first one the cluster serves.
MESH_VERSIONS = {
    "appmesh": ("v1beta2", "v1beta1"),
    "istio": ("v1", "v1beta1", "v1alpha3"),
}
ADAPTERS: dict[tuple[str, str], Adapter] = {
    ("appmesh", "v1beta2"): appmesh_v1beta2.ADAPTER,
    ("appmesh", "v1beta1"): appmesh_v1beta1.ADAPTER,
    **{("istio", version): a for version, a in istio.ADAPTERS.items()},
}
_CHECKS: dict[str, Callable[[RetryPolicy], None]] = {
    "appmesh": appmesh_common.check_policy,
    "istio": istio.check,
}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)


def _bad(message: str) -> PolicyError:
    return PolicyError(f"invalid arguments: {message}")


def _checked(check: Callable[[], Any]) -> Any:
    """Run an :mod:`chaoslitmus._args` check under this module's prefix."""
    try:
        return check()
    except ActivityFailed as exc:
        raise _bad(str(exc)) from None


def check_target_args(
    name: str,
    namespace: str,
    mesh: str,
    api_version: str,
    virtual_router: str | None = None,
    route_name: str | None = None,
) -> None:
    """Reject arguments that cannot name a mesh object, before any request.

    ``name`` is the VirtualService. For App Mesh v1beta2 the VirtualRouter
    may be named too (``virtual_router``); ``name`` may then be the router's
    own name, to address the router alone (no VirtualService is read).
    """
    _checked(lambda: _args.choice(mesh, "mesh", MESH_VERSIONS))
    versions = MESH_VERSIONS[mesh]
    if not isinstance(api_version, str) or (
        api_version != "auto" and api_version not in versions
    ):
        raise _bad(
            f"api_version for {mesh} must be 'auto' or one of {', '.join(versions)} "
            f"(got {_args.show(api_version)})"
        )
    if not isinstance(namespace, str) or not _DNS_LABEL.match(namespace):
        raise _bad(f"namespace must be a DNS-1123 label (got {_args.show(namespace)})")
    if name is None or name == "":
        what = (
            "VirtualService"
            if mesh == "istio"
            else "VirtualService (or, with virtual_router, the VirtualRouter)"
        )
        raise _bad(f"name is required: the {what} to edit")
    for value, what in ((name, "name"), (virtual_router, "virtual_router")):
        if value is None or value == "":
            continue
        if (
            not isinstance(value, str)
            or len(value) > 253
            or not _DNS_SUBDOMAIN.match(value)
        ):
            raise _bad(
                f"{what} must be a Kubernetes object name (got {_args.show(value)})"
            )
    if virtual_router and (mesh != "appmesh" or api_version == "v1beta1"):
        raise _bad(
            "virtual_router only applies to App Mesh v1beta2 (mesh='appmesh'); "
            "elsewhere pass name=<VirtualService>"
        )
    if route_name is not None and (not isinstance(route_name, str) or not route_name):
        raise _bad(
            "route_name must be a non-empty string or null "
            f"(got {_args.show(route_name)})"
        )


def check_mesh_policy(mesh: str, policy: RetryPolicy) -> None:
    """The mesh's own limits (same for all versions of a mesh), before any request."""
    _CHECKS[mesh](policy)


def resolve_adapter(
    kube: Kube,
    mesh: str,
    api_version: str,
    uses_virtual_service: bool,
    uses_virtual_router: bool = False,
) -> Adapter:
    """The adapter for the version asked for, or the preferred one served.

    Naming a VirtualRouter only makes sense for App Mesh v1beta2, so then
    "auto" does not fall back to v1beta1.
    """
    wanted = MESH_VERSIONS[mesh] if api_version == "auto" else (api_version,)
    if uses_virtual_router:
        wanted = ("v1beta2",)
    for version in wanted:
        adapter = ADAPTERS[(mesh, version)]
        plurals = {adapter.plural}
        if uses_virtual_service:
            plurals.add("virtualservices")
        if all(
            kube.served(adapter.group, version, plural) for plural in sorted(plurals)
        ):
            return adapter
    group = ADAPTERS[(mesh, wanted[0])].group
    hint = CRD_HINTS[group]
    if api_version == "auto":
        tried = ", ".join(f"{group}/{v}" for v in wanted)
        raise ActivityFailed(
            f"no {mesh} API is served by this cluster (tried {tried}): {hint}"
        )
    others = [
        v
        for v in MESH_VERSIONS[mesh]
        if v != api_version and kube.served(group, v, ADAPTERS[(mesh, v)].plural)
    ]
    fix = f"use api_version='auto' (served: {', '.join(others)})" if others else hint
    raise ActivityFailed(f"{group}/{api_version} is not served by this cluster: {fix}")


@dataclass(frozen=True)
class Target:
    """The object whose routes we edit, and how we got to it."""

    adapter: Adapter
    name: str
    namespace: str
    # The VirtualService followed to reach a v1beta2 VirtualRouter, if any.
    via: dict[str, str] | None = None

    @property
    def label(self) -> str:
        return f"{self.adapter.kind} '{self.name}' in namespace '{self.namespace}'"

    def describe(self, obj: dict | None = None) -> dict[str, Any]:
        """JSON-friendly identity of the object, for activity outputs."""
        meta = (obj or {}).get("metadata") or {}
        return {
            "kind": self.adapter.kind,
            "api_version": self.adapter.group_version,
            "name": self.name,
            "namespace": self.namespace,
            "resource_version": meta.get("resourceVersion"),
        }


def _objects(kube: Kube, adapter: Adapter, plural: str, namespace: str) -> Resource:
    return kube.resource(adapter.group, adapter.api_version, plural, namespace)


def _routed(kube: Kube, target: Target) -> Resource:
    """The kind of object whose routes we edit, in the target's namespace."""
    return _objects(kube, target.adapter, target.adapter.plural, target.namespace)


def locate(
    kube: Kube,
    adapter: Adapter,
    name: str | None,
    namespace: str,
    virtual_router: str | None = None,
) -> Target:
    """Find the object to edit: the VirtualService, or (v1beta2) its router."""
    if adapter.kind != "VirtualRouter":
        return Target(adapter, str(name), namespace)
    if virtual_router and name in (None, virtual_router):
        return Target(adapter, virtual_router, namespace)  # the router alone
    service = _service(kube, adapter, namespace, name, virtual_router) if name else None
    via = (
        {"kind": "VirtualService", "name": name, "namespace": namespace}
        if name
        else None
    )
    if virtual_router:
        if service is not None:
            _check_router_ref(service, virtual_router, namespace)
        return Target(adapter, virtual_router, namespace, via)
    router_name, router_namespace = appmesh_v1beta2.router_ref(service or {})
    return Target(adapter, router_name, router_namespace, via)


def _service(
    kube: Kube,
    adapter: Adapter,
    namespace: str,
    name: str,
    virtual_router: str | None = None,
) -> dict:
    """The v1beta2 VirtualService; when it is gone, say how to reach its router."""
    try:
        return _objects(kube, adapter, "virtualservices", namespace).get(name)
    except NotFound as exc:
        if virtual_router:
            how = f"name='{virtual_router}' with virtual_router='{virtual_router}'"
            found = ""
        else:
            how = "virtual_router=<VirtualRouter name> and name=<the same name>"
            holders = _routers_with_snapshot(kube, adapter, namespace)
            found = (
                f" (VirtualRouter(s) here holding a retry-policy snapshot: "
                f"{', '.join(repr(h) for h in holders)})"
                if holders
                else ""
            )
        raise NotFound(
            f"{exc}; if the VirtualService was deleted, reach its VirtualRouter "
            f"directly with {how}{found}",
            404,
        ) from None


def _routers_with_snapshot(kube: Kube, adapter: Adapter, namespace: str) -> list[str]:
    """Best effort, for an error message: routers carrying our annotation."""
    try:
        listed = _objects(kube, adapter, adapter.plural, namespace).list()
    except KubeError:
        return []
    return sorted(
        str((item.get("metadata") or {}).get("name"))
        for item in listed.get("items") or []
        if ORIGINAL_ROUTES in ((item.get("metadata") or {}).get("annotations") or {})
    )


def _check_router_ref(service: dict, virtual_router: str, namespace: str) -> None:
    """Both names given: they must agree, or we would edit the wrong router."""
    provider = (service.get("spec") or {}).get("provider") or {}
    ref = (provider.get("virtualRouter") or {}).get("virtualRouterRef") or {}
    if ref.get("name") and (ref["name"], ref.get("namespace") or namespace) != (
        virtual_router,
        namespace,
    ):
        raise ActivityFailed(
            f"VirtualService '{service['metadata'].get('name')}' routes through "
            f"VirtualRouter '{ref['name']}' (namespace "
            f"'{ref.get('namespace') or namespace}'), not '{virtual_router}'; drop "
            "virtual_router or fix it"
        )


def read(kube: Kube, target: Target) -> dict:
    """The object as stored now; a missing router says who points at it."""
    try:
        return _routed(kube, target).get(target.name)
    except NotFound:
        if not target.via:
            raise
        raise NotFound(
            f"{target.label} not found; VirtualService '{target.via['name']}' "
            "refers to it in spec.provider.virtualRouter.virtualRouterRef: create "
            "the VirtualRouter or fix the reference",
            404,
        ) from None


def _patch(kube: Kube, target: Target, body: dict) -> dict:
    """A JSON merge patch (CRs refuse strategic merge with 415).

    kubernetes 37 already defaults custom objects to merge patch, but we name
    the content type so a client change can never turn it into something else.
    """
    return _routed(kube, target).patch(target.name, body, field_manager=FIELD_MANAGER)


def _read_back(kube: Kube, target: Target, lost: KubeError) -> dict:
    """The object after a patch whose answer was lost, or a clear error."""
    try:
        return read(kube, target)
    except KubeError as exc:
        raise kube_error(
            f"{target.label}: the change was sent but its answer was lost ({lost}), "
            f"and the object cannot be read back ({exc}); it is either fully applied "
            "or not at all: run the same action again once the API answers",
            exc.status,
        ) from None


@dataclass
class Plan:
    """What to send for one read of the object (``patch=None``: nothing to do)."""

    patch: dict | None
    result: Any = None


def edit(
    kube: Kube,
    target: Target,
    plan: Callable[[dict], Plan],
    attempts: int = CONFLICT_ATTEMPTS,
) -> tuple[dict, dict, Plan]:
    """Read, plan, patch with the read's resourceVersion; on 409 start over.

    ``plan`` is pure and sees a fresh object each round, so the snapshot and
    the change always come from the same version. Returns (before, after, plan).
    When a patch got no answer (``uncertain``), the object is read to see
    whether that patch landed before anything else is tried.
    """
    for attempt in range(attempts):
        before = read(kube, target)
        planned = plan(before)
        if planned.patch is None:
            return before, before, planned
        try:
            after = _patch(kube, target, planned.patch)
        except KubeError as exc:
            if exc.uncertain:
                current = _read_back(kube, target, exc)
                if patch_landed(before, planned.patch, current):
                    logger.debug(
                        "%s: our patch landed, its answer was lost", target.label
                    )
                    return before, current, planned
                if not isinstance(exc, Conflict):
                    raise kube_error(
                        f"{target.label} was not changed (read back after the "
                        f"failure): {str(exc).replace(MAYBE_APPLIED, '')}",
                        exc.status,
                    ) from None
            if not isinstance(exc, Conflict):
                raise
            logger.info("%s changed under us (409), reading it again", target.label)
            time.sleep(0.05 * attempt)
            continue
        return before, after, planned
    raise ActivityFailed(
        f"{target.label} kept changing while we edited it ({attempts} conflicts in a "
        "row): another writer (controller, GitOps tool, person) is updating it; "
        "pause that writer and run this again"
    )


def stamp() -> tuple[str, dict[str, Any]]:
    """When (UTC, whole seconds, as managedFields) and by whom a snapshot is taken."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return now, {
        "field_manager": FIELD_MANAGER,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def connect(
    secrets: Any,
    name: str | None,
    namespace: str,
    mesh: str,
    api_version: str,
    virtual_router: str | None = None,
) -> tuple[Kube, Target]:
    """Client, served API version and object to edit, for one activity call."""
    kube = Kube(secrets)
    alone = bool(virtual_router) and name == virtual_router  # no VirtualService
    adapter = resolve_adapter(
        kube,
        mesh,
        api_version,
        bool(name) and not alone,
        uses_virtual_router=bool(virtual_router),
    )
    return kube, locate(kube, adapter, name or None, namespace, virtual_router or None)
