"""Does the served CRD know the field we are about to write?

A structural CRD prunes fields its schema does not list, silently: an
HTTPRoute ``retry`` sent to a standard-channel Gateway API CRD before v1.7 is
accepted and dropped (docs/mesh-behaviour.md, "Gateway API HTTPRoute
retries"). So before writing we read the served CRD's schema from
``apiextensions.k8s.io`` and refuse clearly; after writing, the object read
back is checked too (:func:`dropped_routes`), for clusters where the CRD
cannot be read.
"""

from __future__ import annotations

import logging
from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaoslitmus.k8s import Kube, KubeError
from chaoslitmus.mesh.policy import RetryPolicy
from chaoslitmus.mesh.routes import Adapter

__all__ = [
    "CrdFacts",
    "check_retry_field",
    "dropped_routes",
    "gateway_crd_facts",
    "read_crd",
]

logger = logging.getLogger("chaostoolkit.litmus.mesh")

BUNDLE = "gateway.networking.k8s.io/bundle-version"
CHANNEL = "gateway.networking.k8s.io/channel"


class CrdFacts:
    """What a served HTTPRoute CRD version says about ``rules[].retry``."""

    def __init__(self, crd: dict, version: str) -> None:
        meta = crd.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        self.bundle = annotations.get(BUNDLE) or "unknown version"
        self.channel = annotations.get(CHANNEL) or "unknown channel"
        rule = _rule_schema(crd, version)
        self.known = rule is not None
        retry = ((rule or {}).get("properties") or {}).get("retry")
        self.has_retry = isinstance(retry, dict)
        attempts = ((retry or {}).get("properties") or {}).get("attempts") or {}
        minimum = attempts.get("minimum")
        self.attempts_minimum = minimum if isinstance(minimum, int) else None

    @property
    def label(self) -> str:
        return f"Gateway API {self.bundle} ({self.channel} channel)"


def _rule_schema(crd: dict, version: str) -> dict | None:
    for entry in (crd.get("spec") or {}).get("versions") or []:
        if not isinstance(entry, dict) or entry.get("name") != version:
            continue
        schema = (entry.get("schema") or {}).get("openAPIV3Schema") or {}
        node: Any = schema
        for key in ("spec", "rules"):
            node = ((node or {}).get("properties") or {}).get(key)
        items = (node or {}).get("items")
        return items if isinstance(items, dict) else None
    return None


def read_crd(kube: Kube, name: str) -> dict | None:
    """The CRD object, or ``None`` when it cannot be read (RBAC, not found)."""
    crds = kube.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    try:
        return crds.get(name)
    except KubeError as exc:
        if exc.status in (401, 403, 404):
            logger.info("cannot read CRD %s (%s); will check after writing", name, exc)
            return None
        raise


def gateway_crd_facts(kube: Kube, adapter: Adapter) -> CrdFacts | None:
    crd = read_crd(kube, f"{adapter.plural}.{adapter.group}")
    return None if crd is None else CrdFacts(crd, adapter.api_version)


def check_retry_field(kube: Kube, adapter: Adapter, policy: RetryPolicy) -> None:
    """Refuse, before any write, what the served HTTPRoute CRD would drop or reject."""
    if adapter.mesh != "gateway-api":
        return
    facts = gateway_crd_facts(kube, adapter)
    if facts is None or not facts.known:
        return
    if not facts.has_retry:
        raise ActivityFailed(
            f"the HTTPRoute CRD served here is {facts.label}, whose "
            f"{adapter.group_version} schema has no spec.rules[].retry: the API "
            "server would drop the retry policy silently; nothing was changed: "
            "install the experimental-channel CRDs (v1.2 to v1.6) or Gateway API "
            "v1.7+, or use the mesh's own API"
        )
    minimum = facts.attempts_minimum
    retries = policy.max_retries
    if minimum is not None and retries is not None and retries < minimum:
        raise ActivityFailed(
            f"invalid retry policy: the HTTPRoute CRD served here "
            f"({facts.label}) requires retry.attempts >= {minimum} "
            f"(got max_retries={retries}); nothing was changed: "
            "use remove_retry_policy instead, or Gateway API v1.7+ which "
            "accepts 0"
        )


def dropped_routes(
    adapter: Adapter, sent: list[Any] | None, stored: list[Any] | None
) -> list[str]:
    """Routes whose retry block the server did not keep as sent (pruned)."""
    if sent is None:
        return []
    stored = stored or []
    dropped = []
    for index, route in enumerate(sent):
        if not isinstance(route, dict):
            continue
        kept = stored[index] if index < len(stored) else None
        kept_raw = adapter.get_raw(kept) if isinstance(kept, dict) else None
        if adapter.get_raw(route) != kept_raw:
            dropped.append(adapter.describe(route, index).label)
    return dropped
