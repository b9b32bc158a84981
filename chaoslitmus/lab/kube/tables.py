"""Server-side printing: meta.k8s.io/v1 Table responses, as `kubectl get` asks.

Columns follow the real apiserver for the kinds the lab uses (pods,
deployments...), CRDs' additionalPrinterColumns, and NAME/AGE otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

from .resources import ResourceType

__all__ = ["human_age", "to_table", "wants_table"]

Cell = Callable[[dict[str, Any]], Any]


def wants_table(accept: str) -> bool:
    """True when the Accept header asks for a meta.k8s.io Table first."""
    first = accept.split(",")[0].replace(" ", "")
    return "as=Table" in first and "g=meta.k8s.io" in first


def human_age(timestamp: str | None, now: dt.datetime | None = None) -> str:
    """kubectl's short age ("45s", "3m12s", "5h", "12d") for an RFC 3339 time."""
    if not timestamp:
        return "<unknown>"
    try:
        then = dt.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.timezone.utc
        )
    except ValueError:
        return "<invalid>"
    now = now or dt.datetime.now(dt.timezone.utc)
    seconds = int((now - then).total_seconds())
    if seconds < -1:
        return "<invalid>"
    seconds = max(seconds, 0)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def _path(obj: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(key, int):
            obj = obj[key] if isinstance(obj, list) and len(obj) > key else None
        else:
            obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


_JSONPATH_PART = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\['([^']+)'\]")


def _jsonpath(expression: str, obj: dict[str, Any]) -> Any:
    """The simple `.a.b[0].c` paths CRD printer columns use."""
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    keys: list[str | int] = []
    pos = 0
    for match in _JSONPATH_PART.finditer(text):
        if match.start() != pos:
            return None
        name, index, quoted = match.groups()
        keys.append(int(index) if index is not None else (name or quoted))
        pos = match.end()
    return _path(obj, *keys) if pos == len(text) else None


def _age(obj: dict[str, Any]) -> str:
    return human_age(_path(obj, "metadata", "creationTimestamp"))


def _pod_ready(obj: dict[str, Any]) -> str:
    statuses = _path(obj, "status", "containerStatuses") or []
    containers = _path(obj, "spec", "containers") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    return f"{ready}/{len(containers)}"


def _pod_status(obj: dict[str, Any]) -> str:
    if _path(obj, "metadata", "deletionTimestamp"):
        return "Terminating"
    for status in _path(obj, "status", "containerStatuses") or []:
        waiting = _path(status, "state", "waiting", "reason")
        if waiting:
            return waiting
    return _path(obj, "status", "reason") or _path(obj, "status", "phase") or "Unknown"


def _pod_restarts(obj: dict[str, Any]) -> int:
    statuses = _path(obj, "status", "containerStatuses") or []
    return sum(int(s.get("restartCount") or 0) for s in statuses)


def _ports(obj: dict[str, Any]) -> str:
    ports = _path(obj, "spec", "ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports)


def _int_or_zero(*keys: str) -> Cell:
    return lambda obj: int(_path(obj, *keys) or 0)


def _column(name: str, kind: str = "string", priority: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "format": "name" if name == "Name" else "",
        "description": "",
        "priority": priority,
    }


_NAME: tuple[dict[str, Any], Cell] = (
    _column("Name"),
    lambda obj: _path(obj, "metadata", "name"),
)
_AGE: tuple[dict[str, Any], Cell] = (_column("Age"), _age)

_BUILTIN_COLUMNS: dict[str, list[tuple[dict[str, Any], Cell]]] = {
    "v1/pods": [
        _NAME,
        (_column("Ready"), _pod_ready),
        (_column("Status"), _pod_status),
        (_column("Restarts", "integer"), _pod_restarts),
        _AGE,
        (_column("IP", priority=1), lambda o: _path(o, "status", "podIP") or "<none>"),
        (
            _column("Node", priority=1),
            lambda o: _path(o, "spec", "nodeName") or "<none>",
        ),
    ],
    "apps/v1/deployments": [
        _NAME,
        (
            _column("Ready"),
            lambda o: (
                f"{int(_path(o, 'status', 'readyReplicas') or 0)}/"
                f"{int(_path(o, 'spec', 'replicas') or 0)}"
            ),
        ),
        (_column("Up-to-date", "integer"), _int_or_zero("status", "updatedReplicas")),
        (_column("Available", "integer"), _int_or_zero("status", "availableReplicas")),
        _AGE,
    ],
    "apps/v1/replicasets": [
        _NAME,
        (_column("Desired", "integer"), _int_or_zero("spec", "replicas")),
        (_column("Current", "integer"), _int_or_zero("status", "replicas")),
        (_column("Ready", "integer"), _int_or_zero("status", "readyReplicas")),
        _AGE,
    ],
    "batch/v1/jobs": [
        _NAME,
        (
            _column("Completions"),
            lambda o: (
                f"{int(_path(o, 'status', 'succeeded') or 0)}/"
                f"{int(_path(o, 'spec', 'completions') or 1)}"
            ),
        ),
        _AGE,
    ],
    "v1/services": [
        _NAME,
        (_column("Type"), lambda o: _path(o, "spec", "type") or "ClusterIP"),
        (_column("Cluster-IP"), lambda o: _path(o, "spec", "clusterIP") or "<none>"),
        (_column("External-IP"), lambda o: "<none>"),
        (_column("Port(s)"), _ports),
        _AGE,
    ],
    "v1/namespaces": [
        _NAME,
        (_column("Status"), lambda o: _path(o, "status", "phase") or ""),
        _AGE,
    ],
    "v1/events": [
        (_column("Last Seen"), lambda o: human_age(o.get("lastTimestamp"))),
        (_column("Type"), lambda o: o.get("type") or ""),
        (_column("Reason"), lambda o: o.get("reason") or ""),
        (
            _column("Object"),
            lambda o: (
                f"{(_path(o, 'involvedObject', 'kind') or '').lower()}/"
                f"{_path(o, 'involvedObject', 'name') or ''}"
            ),
        ),
        (_column("Message"), lambda o: o.get("message") or ""),
    ],
    "apiextensions.k8s.io/v1/customresourcedefinitions": [
        _NAME,
        (
            _column("Created At", "date"),
            lambda o: _path(o, "metadata", "creationTimestamp"),
        ),
    ],
}


def _crd_cell(column: dict[str, Any]) -> Cell:
    def cell(obj: dict[str, Any]) -> Any:
        value = _jsonpath(column.get("jsonPath", ""), obj)
        if value is None:
            return None
        if column.get("type") == "date" and isinstance(value, str):
            return human_age(value)
        if isinstance(value, (dict, list)):
            return json.dumps(value, separators=(",", ":"))
        return value

    return cell


def _columns(rtype: ResourceType) -> list[tuple[dict[str, Any], Cell]]:
    if rtype.key in _BUILTIN_COLUMNS:
        return _BUILTIN_COLUMNS[rtype.key]
    if rtype.printer_columns:
        columns = [_NAME]
        for spec in rtype.printer_columns:
            definition = _column(spec.get("name", ""), spec.get("type", "string"))
            definition["description"] = spec.get("description", "")
            definition["priority"] = int(spec.get("priority", 0))
            columns.append((definition, _crd_cell(spec)))
        return columns
    return [_NAME, _AGE]


def _row_object(obj: dict[str, Any], include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def to_table(
    rtype: ResourceType,
    objects: list[dict[str, Any]],
    resource_version: str,
    include_object: str = "Metadata",
    continue_token: str | None = None,
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table for objects of one kind."""
    columns = _columns(rtype)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [cell(obj) for _, cell in columns]}
        embedded = _row_object(obj, include_object)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [definition for definition, _ in columns],
        "rows": rows,
    }
