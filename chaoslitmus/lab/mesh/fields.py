"""Reading mesh objects as the lab's route builders do: plain dicts from the
API server, where any field may be missing or of the wrong type."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["duration_ms", "int_field", "meta_of", "ms_text", "spec_of"]


def meta_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def spec_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def int_field(value: Any) -> int | None:
    """An int as the API would take it (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def ms_text(value: float | None) -> str:
    return "none" if value is None else f"{value:g}ms"


def duration_ms(
    text: Any, pattern: re.Pattern[str], unit_ms: Mapping[str, float]
) -> float | None:
    """A Go-style duration (`1m30s`) in ms, else None; `pattern` matches one
    number-and-unit part, `unit_ms` says what each unit is worth (the meshes
    accept different units)."""
    if not isinstance(text, str) or not text:
        return None
    total, position = 0.0, 0
    while position < len(text):
        part = pattern.match(text, position)
        if part is None:
            return None
        total += float(part.group(1)) * unit_ms[part.group(2)]
        position = part.end()
    return total
