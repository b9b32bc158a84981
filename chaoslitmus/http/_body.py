"""Body checks: pure rules that turn a 200 with a broken page into an error.

A service that degrades gracefully answers 200 with an error inside the
body (BookInfo's reviews says "Ratings service is currently unavailable"
and still answers 200, see docs/mesh-behaviour.md). A probe that judges
status codes only reports such a window as healthy; these rules let it
judge what callers read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MAX_BODY_BYTES", "NO_BODY_CHECK", "BodyRule", "body_problem", "body_rule"]

# Only this much of a body is kept for the checks: a marker that lies past
# 1 MiB is not something a probe of a web page should depend on.
MAX_BODY_BYTES = 1 << 20
_EXCERPT_CHARS = 160


@dataclass(frozen=True)
class BodyRule:
    """Strings every ok body must hold, and strings none may hold."""

    must_contain: tuple[str, ...] = ()
    must_not_contain: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.must_contain or self.must_not_contain)


NO_BODY_CHECK = BodyRule()


def body_rule(must_contain: object = None, must_not_contain: object = None) -> BodyRule:
    """Validate both arguments (None, a string or a list of strings).

    An empty string or list means "no check", so an experiment can leave its
    configuration value empty to switch the check off.
    """
    return BodyRule(
        _strings("body_must_contain", must_contain),
        _strings("body_must_not_contain", must_not_contain),
    )


def body_problem(rule: BodyRule, body: bytes) -> str | None:
    """Why this body breaks the rule (one line with an excerpt), or None."""
    text = body.decode("utf-8", errors="replace")
    for marker in rule.must_contain:
        if marker not in text:
            return f"body lacks {marker!r}: {_excerpt(text, 0)}"
    for marker in rule.must_not_contain:
        at = text.find(marker)
        if at >= 0:
            return f"body holds {marker!r}: {_excerpt(text, at)}"
    return None


def _excerpt(text: str, at: int) -> str:
    start = max(0, at - _EXCERPT_CHARS // 4)
    piece = " ".join(text[start : start + _EXCERPT_CHARS].split())
    return ("..." if start else "") + repr(piece)


def _strings(name: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        for item in value:
            if not isinstance(item, str):
                raise ValueError(
                    f"{name} must be a string or a list of strings, got {value!r}"
                )
        return tuple(item for item in value if item)
    raise ValueError(f"{name} must be a string or a list of strings, got {value!r}")
