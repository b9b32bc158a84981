"""A minimal OpenAPI v3 index, enough for kubectl's validation handshake.

`kubectl create/apply` (validate=strict, the default) asks /openapi/v3 if
PATCH takes the `fieldValidation` query parameter; when it does, kubectl
lets the server validate (we do, against the CRD schemas) instead of
downloading full schemas. Only paths and parameters are described.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .resources import ResourceRegistry, ResourceType

__all__ = ["group_version_document", "openapi_index"]

_QUERY_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "pretty")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _document_hash(types: list[ResourceType]) -> str:
    text = json.dumps(sorted(t.key for t in types) + [t.kind for t in types])
    return hashlib.sha256(text.encode()).hexdigest()[:32].upper()


def openapi_index(registry: ResourceRegistry) -> dict[str, Any]:
    """The /openapi/v3 root: one entry per served group-version."""
    paths = {}
    for group, versions in registry.group_versions().items():
        for version in versions:
            types = registry.types_in(group, version)
            path = _gv_path(group, version)
            paths[path] = {
                "serverRelativeURL": f"/openapi/v3/{path}?hash={_document_hash(types)}"
            }
    return {"paths": paths}


def _operation(rtype: ResourceType, verb: str) -> dict[str, Any]:
    return {
        "operationId": f"{verb}{rtype.kind}",
        "parameters": [
            {"name": name, "in": "query", "schema": {"type": "string"}}
            for name in _QUERY_PARAMS
        ],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": {
            "group": rtype.group,
            "version": rtype.version,
            "kind": rtype.kind,
        },
    }


def group_version_document(
    registry: ResourceRegistry, group: str, version: str
) -> dict[str, Any] | None:
    """Paths (no schemas) for one group-version, or None if it is not served."""
    types = registry.types_in(group, version)
    if not types:
        return None
    prefix = "/" + _gv_path(group, version)
    paths: dict[str, Any] = {}
    for rtype in sorted(types, key=lambda t: t.plural):
        scope = f"{prefix}/namespaces/{{namespace}}" if rtype.namespaced else prefix
        paths[f"{scope}/{rtype.plural}"] = {
            "get": _operation(rtype, "list"),
            "post": _operation(rtype, "post"),
        }
        paths[f"{scope}/{rtype.plural}/{{name}}"] = {
            "get": _operation(rtype, "get"),
            "put": _operation(rtype, "put"),
            "patch": _operation(rtype, "patch"),
            "delete": _operation(rtype, "delete"),
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.30.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }
