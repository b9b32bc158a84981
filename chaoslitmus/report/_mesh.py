"""Mesh retry-policy activities (set, remove, restore, read) -> MeshChange."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaoslitmus.report._activity import activity_func, arguments_of
from chaoslitmus.report._read import as_dict, as_list, as_str, error_line
from chaoslitmus.report._text import policy_text
from chaoslitmus.report.types import MESH_CHANGES, MeshChange, RouteChange

__all__ = ["MESH_FUNCS", "is_mesh_output", "mesh_change"]

MESH_FUNCS = MESH_CHANGES
_MESH_READS = frozenset({"get_retry_policy"})


def is_mesh_output(output: Any) -> bool:
    """Shaped like a chaoslitmus.mesh output: a mesh name and a route list."""
    return (
        isinstance(output, Mapping)
        and "mesh" in output
        and isinstance(output.get("routes"), list)
    )


def mesh_change(record: Mapping[str, Any], phase: str) -> MeshChange | None:
    """A mesh activity's effect per route; None for other activities.

    A failed call (no output) still counts when its function is a mesh one,
    so the report says the policy change failed instead of saying nothing.
    """
    activity = as_dict(record.get("activity"))
    func = activity_func(activity)
    output = record.get("output")
    if not is_mesh_output(output) and func not in MESH_FUNCS | _MESH_READS:
        return None
    data = as_dict(output)
    obj = as_dict(data.get("object"))
    arguments = arguments_of(activity)
    name = as_str(obj.get("name")) or as_str(arguments.get("name"))
    namespace = as_str(obj.get("namespace")) or as_str(arguments.get("namespace"))
    kind = as_str(obj.get("kind"))
    target = " ".join(p for p in (kind, f"{namespace}/{name}" if name else "") if p)
    routes = []
    for entry in as_list(data.get("routes")):
        entry = as_dict(entry)
        route = as_str(entry.get("name"), "?")
        if "policy" in entry and "before" not in entry:  # a read, no change
            text = policy_text(entry.get("policy"))
            routes.append(RouteChange(route, text, text, False))
            continue
        routes.append(
            RouteChange(
                route,
                policy_text(entry.get("before")),
                policy_text(entry.get("after")),
                entry.get("changed") is True,
            )
        )
    return MeshChange(
        activity=as_str(activity.get("name"), "(unnamed)"),
        action=func or "mesh",
        phase=phase,
        status=as_str(record.get("status"), "unknown"),
        mesh=as_str(data.get("mesh")) or as_str(arguments.get("mesh")),
        api_version=as_str(data.get("api_version")),
        target=target,
        routes=tuple(routes),
        message=as_str(data.get("message")),
        error=error_line(record),
        note=as_str(data.get("note")),
    )
