"""The lab API server's resource registry: which kinds it serves and where.

Built-in Kubernetes kinds are declared here; custom resources come from
CustomResourceDefinition objects (see `schemas.py`), added and removed at
run time so that tests can simulate a CRD being installed or not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BUILTIN_TYPES",
    "UNPRUNED_VERSIONS_ANNOTATION",
    "ResourceRegistry",
    "ResourceType",
    "resource_types_from_crd",
    "unpruned_versions",
    "version_priority_key",
]


# A merged CRD can hold versions from a legacy apiextensions v1beta1 file that
# never pruned; this annotation keeps that per-version fact on the v1 object.
UNPRUNED_VERSIONS_ANNOTATION = "lab.chaoslitmus.io/unpruned-versions"


@dataclass(frozen=True)
class ResourceType:
    """One served (group, version, plural): what the server needs to know."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    singular: str = ""
    short_names: tuple[str, ...] = ()
    list_kind: str = ""
    has_status_subresource: bool = False
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    categories: tuple[str, ...] = ()
    printer_columns: tuple[dict[str, Any], ...] = field(
        default=(), compare=False, hash=False
    )
    prune: bool = False  # v1 structural-schema pruning of unknown fields
    crd_name: str | None = None  # None for built-in kinds

    def __post_init__(self) -> None:
        if not self.singular:
            object.__setattr__(self, "singular", self.kind.lower())
        if not self.list_kind:
            object.__setattr__(self, "list_kind", f"{self.kind}List")

    @property
    def api_version(self) -> str:
        """`v1` for the core group, `group/version` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """The store's string key: `v1/pods`, `litmuschaos.io/v1alpha1/chaosengines`."""
        return f"{self.api_version}/{self.plural}"

    @property
    def group_resource(self) -> str:
        """`pods` or `chaosengines.litmuschaos.io`, as Kubernetes names it in errors."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_kind(self) -> str:
        """`Pod` or `ChaosEngine.litmuschaos.io`, used in 422 messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def is_builtin(self) -> bool:
        return self.crd_name is None


def _builtin(
    group: str,
    version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    status: bool = False,
    categories: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        short_names=short,
        has_status_subresource=status,
        categories=categories,
    )


# Kinds a real cluster serves that the lab, the operator loop or the
# extension touch. Status subresources follow the real apiserver.
BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _builtin(
        "",
        "v1",
        "namespaces",
        "Namespace",
        namespaced=False,
        short=("ns",),
        status=True,
    ),
    _builtin("", "v1", "nodes", "Node", namespaced=False, short=("no",), status=True),
    _builtin("", "v1", "pods", "Pod", short=("po",), status=True, categories=("all",)),
    _builtin(
        "",
        "v1",
        "services",
        "Service",
        short=("svc",),
        status=True,
        categories=("all",),
    ),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _builtin("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _builtin("", "v1", "secrets", "Secret"),
    _builtin("", "v1", "events", "Event", short=("ev",)),
    _builtin(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short=("deploy",),
        status=True,
        categories=("all",),
    ),
    _builtin(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short=("rs",),
        status=True,
        categories=("all",),
    ),
    _builtin(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short=("sts",),
        status=True,
        categories=("all",),
    ),
    _builtin(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        short=("ds",),
        status=True,
        categories=("all",),
    ),
    _builtin("batch", "v1", "jobs", "Job", status=True, categories=("all",)),
    _builtin("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        namespaced=False,
    ),
    _builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        namespaced=False,
    ),
    _builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short=("crd", "crds"),
        status=True,
    ),
)

CRD_KEY = "apiextensions.k8s.io/v1/customresourcedefinitions"
NAMESPACE_KEY = "v1/namespaces"

_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority_key(version: str) -> tuple[int, int, int, str]:
    """Sort key giving Kubernetes' version priority (v1 > v1beta2 > v1alpha1 > foo)."""
    match = _KUBE_VERSION.match(version)
    if not match:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), version)


class ResourceRegistry:
    """Served types, keyed by (group, version, plural); CRDs come and go."""

    def __init__(self, types: Iterable[ResourceType] = BUILTIN_TYPES) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._crds: dict[str, dict[str, Any]] = {}
        for rtype in types:
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    @classmethod
    def with_crds(cls, crds: Iterable[dict[str, Any]]) -> ResourceRegistry:
        """Built-ins plus the given apiextensions.k8s.io/v1 CRD objects."""
        registry = cls()
        for crd in crds:
            registry.add_crd(crd)
        return registry

    # -- CRDs ---------------------------------------------------------------
    def add_crd(self, crd: dict[str, Any]) -> list[ResourceType]:
        """Serve (or re-serve) the versions a v1 CRD object declares."""
        name = crd["metadata"]["name"]
        self.remove_crd(name)
        types = resource_types_from_crd(crd)
        for rtype in types:
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype
        self._crds[name] = crd
        return types

    def remove_crd(self, name: str) -> list[ResourceType]:
        """Stop serving a CRD's types; returns what was removed."""
        gone = [t for t in self._types.values() if t.crd_name == name]
        for rtype in gone:
            del self._types[(rtype.group, rtype.version, rtype.plural)]
        self._crds.pop(name, None)
        return gone

    def crds(self) -> list[dict[str, Any]]:
        """The CRD objects currently served, in insertion order."""
        return list(self._crds.values())

    # -- lookups --------------------------------------------------------------
    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def resolve(self, resource: ResourceType | str) -> ResourceType | None:
        """A ResourceType from itself or its key (`v1/pods`, `g/v/plural`)."""
        if isinstance(resource, ResourceType):
            current = self._types.get(
                (resource.group, resource.version, resource.plural)
            )
            return current
        parts = resource.strip("/").split("/")
        if len(parts) == 2:
            return self._types.get(("", parts[0], parts[1]))
        if len(parts) == 3:
            return self._types.get((parts[0], parts[1], parts[2]))
        return None

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._types.values()))

    def group_versions(self) -> dict[str, list[str]]:
        """Group name -> served versions, highest priority first."""
        groups: dict[str, set[str]] = {}
        for group, version, _ in self._types:
            groups.setdefault(group, set()).add(version)
        return {
            group: sorted(versions, key=version_priority_key)
            for group, versions in sorted(groups.items())
        }

    def types_in(self, group: str, version: str) -> list[ResourceType]:
        return [
            t for (g, v, _), t in self._types.items() if g == group and v == version
        ]

    def storage_group_resource(self, rtype: ResourceType) -> str:
        """All versions of one group/plural share storage, as in Kubernetes."""
        return rtype.group_resource


def unpruned_versions(crd: dict[str, Any]) -> set[str]:
    """The versions a merged CRD keeps unpruned (legacy v1beta1 files)."""
    annotations = crd.get("metadata", {}).get("annotations") or {}
    raw = annotations.get(UNPRUNED_VERSIONS_ANNOTATION, "")
    return {part for part in raw.split(",") if part}


def resource_types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version of a v1 CRD object."""
    spec = crd["spec"]
    names = spec["names"]
    unpruned = unpruned_versions(crd)
    types = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        subresources = version.get("subresources") or {}
        types.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular") or names["kind"].lower(),
                short_names=tuple(names.get("shortNames") or ()),
                list_kind=names.get("listKind") or f"{names['kind']}List",
                has_status_subresource="status" in subresources,
                schema=schema,
                categories=tuple(names.get("categories") or ()),
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
                prune=not spec.get("preserveUnknownFields", False)
                and version["name"] not in unpruned,
                crd_name=crd["metadata"]["name"],
            )
        )
    return types
