"""Defensive reads of journal JSON: every accessor returns a usable value.

Journals come from runs that failed half-way, from older chaoslib versions and
from other people's experiments, so any key may be missing or hold another
type. The report must still show what it can instead of raising.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "as_dict",
    "as_float",
    "as_int",
    "as_list",
    "as_str",
    "compact",
    "error_line",
    "parse_time",
]

_EXCEPTION_PREFIXES = ("chaoslib.exceptions.", "builtins.")


def as_dict(value: Any) -> dict[str, Any]:
    """The value if it is a mapping with string keys, else an empty dict."""
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    return {}


def as_list(value: Any) -> list[Any]:
    """The value if it is a list (or tuple), else an empty list."""
    return list(value) if isinstance(value, (list, tuple)) else []


def as_str(value: Any, default: str = "") -> str:
    """Strings as they are, numbers as text, anything else the default."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return default


def as_float(value: Any) -> float | None:
    """A finite number (numeric strings included), else None; never a bool."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_int(value: Any) -> int | None:
    """A whole number, else None."""
    number = as_float(value)
    return int(number) if number is not None else None


def compact(value: Any, limit: int = 120) -> str:
    """A short one-line JSON rendering of any output, cut at ``limit``."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, sort_keys=True, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_line(run_record: Mapping[str, Any], limit: int = 300) -> str:
    """The one line of a failed activity's traceback that says what went wrong.

    chaoslib stores the traceback as a list of strings; the last non-empty
    line is the exception and its message, which is what a reader needs.
    """
    raw = run_record.get("exception")
    if isinstance(raw, str):
        lines = raw.splitlines()
    else:
        lines = [line for chunk in as_list(raw) for line in as_str(chunk).splitlines()]
    lines = [line.strip() for line in lines if line.strip()]
    if not lines:
        return ""
    last = lines[-1]
    for prefix in _EXCEPTION_PREFIXES:
        last = last.replace(prefix, "")
    # chaoslib re-raises as "ActivityFailed: ActivityFailed: message"
    while (doubled := re.match(r"(\w+): \1: ", last)) is not None:
        last = last[len(doubled.group(1)) + 2 :]
    return last if len(last) <= limit else last[: limit - 1] + "…"


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time as an aware UTC datetime (naive ones are taken as UTC)."""
    text = as_str(value).strip()
    if not text:
        return None
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
