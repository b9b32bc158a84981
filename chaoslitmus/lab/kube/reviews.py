"""Create-only "review" kinds: who am I and what may I do.

`kubectl auth can-i` posts a SelfSubjectAccessReview, `kubectl auth can-i
--list` a SelfSubjectRulesReview, `kubectl auth whoami` a
SelfSubjectReview. The lab's user is `lab` (bearer token or none); the
answers come from the server's authorizer when one is configured (tests
use it to model RBAC), otherwise everything is allowed, as for a
cluster-admin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import bad_request
from .resources import ResourceRegistry, ResourceType

__all__ = ["REVIEW_KEYS", "answer_review"]

ACCESS = "authorization.k8s.io/v1/selfsubjectaccessreviews"
RULES = "authorization.k8s.io/v1/selfsubjectrulesreviews"
WHOAMI = "authentication.k8s.io/v1/selfsubjectreviews"
REVIEW_KEYS = frozenset({ACCESS, RULES, WHOAMI})

Authorizer = Callable[[str, ResourceType, "str | None", "str | None"], bool]
_USER = {"username": "lab", "groups": ["system:masters", "system:authenticated"]}


def _find(registry: ResourceRegistry, group: str, plural: str) -> ResourceType | None:
    for rtype in registry:
        if rtype.group == group and rtype.plural == plural:
            return rtype
    return None


def _access(
    body: dict[str, Any], registry: ResourceRegistry, authorizer: Authorizer | None
) -> dict[str, Any]:
    spec = body.get("spec") or {}
    attributes = spec.get("resourceAttributes")
    if attributes is None:
        if spec.get("nonResourceAttributes") is None:
            raise bad_request(
                "spec: Invalid value: exactly one of nonResourceAttributes or "
                "resourceAttributes must be specified"
            )
        return {"allowed": True, "reason": "the lab allows every non-resource URL"}
    if authorizer is None:
        return {"allowed": True, "reason": "the lab allows every request"}
    rtype = _find(
        registry, attributes.get("group") or "", attributes.get("resource") or ""
    )
    if rtype is None:
        return {
            "allowed": False,
            "reason": f"the lab does not serve {attributes.get('resource')!r}",
        }
    allowed = authorizer(
        attributes.get("verb") or "",
        rtype,
        attributes.get("namespace") or None,
        attributes.get("name") or None,
    )
    return {"allowed": bool(allowed)}


def answer_review(
    key: str,
    body: Any,
    registry: ResourceRegistry,
    authorizer: Authorizer | None,
) -> dict[str, Any]:
    """The created review, its status filled in."""
    if not isinstance(body, dict):
        raise bad_request("the review body must be an object")
    out = {**body, "metadata": {**(body.get("metadata") or {})}}
    out["metadata"].setdefault("creationTimestamp", None)
    if key == ACCESS:
        out["status"] = _access(body, registry, authorizer)
    elif key == RULES:
        everything = authorizer is None
        out["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
            if everything
            else [],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": not everything,
        }
    else:
        out["status"] = {"userInfo": dict(_USER)}
    return out
