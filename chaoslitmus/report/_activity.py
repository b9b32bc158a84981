"""What an activity is: its function name, from its provider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaoslitmus.report._read import as_dict, as_str

__all__ = ["activity_func", "arguments_of"]


def activity_func(activity: Mapping[str, Any]) -> str:
    """The Python function name, or "http GET" / "process ./x" for the others."""
    provider = as_dict(activity.get("provider"))
    func = as_str(provider.get("func"))
    if func:
        return func
    kind = as_str(provider.get("type"))
    if kind == "http":
        return f"http {as_str(provider.get('method'), 'GET')}"
    if kind == "process":
        return f"process {as_str(provider.get('path'))}".strip()
    return kind


def arguments_of(activity: Mapping[str, Any]) -> dict[str, Any]:
    """The provider arguments of an activity (empty when absent)."""
    return as_dict(as_dict(activity.get("provider")).get("arguments"))
