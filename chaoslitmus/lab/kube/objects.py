"""Stored object values: copies, the form clients see, server timestamps."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .resources import ResourceType

__all__ = ["clone", "now", "present"]


def now() -> str:
    """The apiserver's timestamp format (RFC 3339, UTC, whole seconds)."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def clone(value: Any) -> Any:
    """Deep copy of JSON-like data; several times faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def present(obj: dict[str, Any], rtype: ResourceType) -> dict[str, Any]:
    """A copy of a stored object as clients get it: apiVersion and kind first."""
    out = {"apiVersion": rtype.api_version, "kind": rtype.kind}
    for key, value in obj.items():
        if key not in out:
            out[key] = clone(value)
    return out
