"""Fill the ``${name}`` placeholders a journal keeps in activity arguments.

chaoslib substitutes configuration values when it calls an activity, but the
journal stores the activity as written, so a journal says
``"latency_ms": "${latency_ms}"``. The resolved value is not recorded. What
the experiment declares is: a literal value is certain; an environment entry
gives only its default (the variable may have overridden it during the run),
so the report says when it used such defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chaoslitmus.report._read import as_dict, as_str

__all__ = ["Placeholders"]

_WHOLE = re.compile(r"^\$\{([^}]+)\}$")
_ANY = re.compile(r"\$\{([^}]+)\}")


@dataclass
class Placeholders:
    """Configuration values by name, and which placeholders used a default."""

    literals: dict[str, Any]
    defaults: dict[str, Any]
    used_defaults: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, experiment: Mapping[str, Any]) -> Placeholders:
        literals: dict[str, Any] = {}
        defaults: dict[str, Any] = {}
        for name, value in as_dict(experiment.get("configuration")).items():
            if isinstance(value, Mapping):
                if value.get("type") == "env" and "default" in value:
                    defaults[name] = value["default"]
            else:
                literals[name] = value
        return cls(literals, defaults)

    def _lookup(self, name: str) -> tuple[bool, Any]:
        if name in self.literals:
            return True, self.literals[name]
        if name in self.defaults:
            self.used_defaults.add(name)
            return True, self.defaults[name]
        return False, None

    def fill(self, value: Any) -> Any:
        """A copy of ``value`` with known placeholders replaced, as chaoslib does.

        A string that is exactly ``${name}`` takes the value's type; a string
        with placeholders inside stays a string; unknown names stay as written.
        """
        if isinstance(value, str):
            whole = _WHOLE.match(value)
            if whole:
                found, resolved = self._lookup(whole.group(1))
                return resolved if found else value

            def text(match: re.Match[str]) -> str:
                found, resolved = self._lookup(match.group(1))
                return as_str(resolved, match.group(0)) if found else match.group(0)

            return _ANY.sub(text, value)
        if isinstance(value, Mapping):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value

    def fill_activity(self, activity: Any) -> Any:
        """The activity with its provider arguments and tolerance filled in."""
        if not isinstance(activity, Mapping):
            return activity
        filled = dict(activity)
        provider = activity.get("provider")
        if isinstance(provider, Mapping) and "arguments" in provider:
            filled["provider"] = {
                **provider,
                "arguments": self.fill(provider.get("arguments")),
            }
        if "tolerance" in activity:
            filled["tolerance"] = self.fill(activity.get("tolerance"))
        return filled
