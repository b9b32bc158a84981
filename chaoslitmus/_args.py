"""Checks every public activity runs on its arguments before any request.

One style for all of them: each function takes the value and the argument's
name, returns the value in the type the code needs, or raises
:class:`ActivityFailed` with one line that names the argument, what it must
be and what was given. Nothing is coerced silently:

- numbers are numbers or exact numeric strings (``chaos run --var
  latency_ms=1000`` passes ``"1000"``), ASCII digits only (``"²"`` is a digit
  to ``str.isdigit`` but not a number), finite, within a range that is
  checked before any float conversion (so ``10**400`` is refused with the
  range, not an OverflowError); booleans are not numbers;
- booleans are ``true``/``false`` or exactly the strings "true"/"false"
  (``"false"`` is not truthy);
- strings are strings (a list is refused, never turned into "['a', 'b']").

The rules, and the facts from Litmus and Linux they rely on, are written up
in docs/activity-arguments.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from chaoslib.exceptions import ActivityFailed

__all__ = [
    "MAX_MS",
    "MAX_SECONDS",
    "boolean",
    "choice",
    "name",
    "number",
    "optional_text",
    "pattern",
    "show",
    "text",
    "text_list",
    "whole",
]

# Long enough for any fault or wait; a bound, so a typo cannot mean forever.
MAX_SECONDS = 7 * 24 * 3600
MAX_MS = MAX_SECONDS * 1000
# Longest shown value in a message: a huge input must not flood the line.
_SHOWN = 60

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DNS_1123 = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)


def show(value: Any) -> str:
    """``repr(value)``, cut short (and safe for ints too long to print)."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond sys.get_int_max_str_digits()
        return "a number too large to print"
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 3]}..."


def _fail(field: str, must: str, value: Any) -> ActivityFailed:
    return ActivityFailed(f"{field} must be {must}, got {show(value)}")


def _parse(value: Any, field: str, must: str) -> int | float:
    """A real number from a number or an exact numeric string."""
    if isinstance(value, bool):
        raise _fail(field, must, value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        if _INTEGER.fullmatch(value):
            return int(value)
        if _DECIMAL.fullmatch(value):
            return float(value)
    raise _fail(field, must, value)


def _fmt(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def _bounds(minimum: float | None, maximum: float | None, above: bool) -> str:
    low = "" if minimum is None else f"{'>' if above else '>='} {_fmt(minimum)}"
    high = "" if maximum is None else f"<= {_fmt(maximum)}"
    return " and ".join(part for part in (low, high) if part)


def number(
    value: Any,
    field: str,
    minimum: float | None = 0,
    maximum: float | None = None,
    above: bool = False,
) -> float:
    """A finite number in ``[minimum, maximum]`` (``above``: strictly > minimum)."""
    bounds = _bounds(minimum, maximum, above)
    parsed = _parse(value, field, f"a number {bounds}".strip())
    if isinstance(parsed, float) and not math.isfinite(parsed):
        raise _fail(field, f"a finite number {bounds}".strip(), value)
    # Compare before converting: a huge int has no float.
    if (minimum is not None and (parsed <= minimum if above else parsed < minimum)) or (
        maximum is not None and parsed > maximum
    ):
        raise _fail(field, bounds, value)
    try:
        return float(parsed)
    except OverflowError:
        raise _fail(field, f"a finite number {bounds}".strip(), value) from None


def whole(
    value: Any,
    field: str,
    minimum: int | None = 0,
    maximum: int | None = None,
) -> int:
    """A whole number in ``[minimum, maximum]``; ``1.5`` or ``"1.5"`` is refused."""
    bounds = _bounds(minimum, maximum, False)
    must = f"a whole number {bounds}".strip()
    parsed = _parse(value, field, must)
    if isinstance(parsed, float):
        if not math.isfinite(parsed):
            raise _fail(field, "a finite whole number", value)
        if not parsed.is_integer():
            raise _fail(field, must, value)
    if (minimum is not None and parsed < minimum) or (
        maximum is not None and parsed > maximum
    ):
        raise _fail(field, bounds, value)
    return int(parsed)


def boolean(value: Any, field: str) -> bool:
    """``true``/``false``, or exactly the strings "true"/"false"."""
    if isinstance(value, bool):
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    raise _fail(field, 'true or false (or the string "true"/"false")', value)


def text(value: Any, field: str, allow_empty: bool = False) -> str:
    """A string (a list or a number is refused, not stringified)."""
    if not isinstance(value, str) or (not value and not allow_empty):
        raise _fail(field, "a non-empty string", value)
    return value


def optional_text(value: Any, field: str) -> str | None:
    """``None`` (or ``""``: not given) stays ``None``; else a string."""
    if value is None or value == "":
        return None
    return text(value, field)


def pattern(value: Any, field: str, regex: re.Pattern, example: str) -> str:
    """A string matching ``regex`` in full, e.g. an interface name."""
    if not isinstance(value, str) or not regex.fullmatch(value):
        raise _fail(field, f"{example}", value)
    return value


def choice(value: Any, field: str, choices: Iterable[str]) -> str:
    """One of ``choices`` (a list-typed value is refused with the same line)."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise _fail(field, f"one of {', '.join(options)}", value)
    return value


def name(value: Any, field: str, max_len: int = 253) -> str:
    """A Kubernetes object name (DNS-1123 subdomain, lower case)."""
    if not isinstance(value, str) or not value:
        raise _fail(field, "a non-empty string", value)
    if len(value) > max_len or not _DNS_1123.match(value):
        raise ActivityFailed(
            f"{field} {show(value)} is not a valid Kubernetes name: use lower-case "
            f"letters, digits, '-' and '.', at most {max_len} characters"
        )
    return value


def text_list(value: Any, field: str) -> list[str]:
    """A list of non-empty strings, or one comma-separated string; [] when absent."""
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
    else:
        raise _fail(field, "a list of strings or a comma-separated string", value)
    if not all(items):
        raise ActivityFailed(f"{field} has an empty entry: {show(value)}")
    return items
