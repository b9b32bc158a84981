"""Label and field selectors with the syntax and errors of the Kubernetes API."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FieldSelector",
    "LabelSelector",
    "SelectorError",
    "field_getter",
    "parse_field_selector",
    "parse_label_selector",
]


class SelectorError(ValueError):
    """A selector the apiserver would refuse with 400 BadRequest."""


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present:
            return False
        try:
            number, bound = int(value or ""), int(self.values[0])
        except ValueError:
            return False
        return number > bound if self.op == "gt" else number < bound


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: dict[str, str] | None) -> bool:
        labels = labels or {}
        return all(req.matches(labels) for req in self.requirements)


_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SET_OP = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<vals>[^()]*)\)$")
_CMP_OP = re.compile(
    r"^(?P<key>[^=!<>\s]+)\s*(?P<op>==|=|!=|>|<)\s*(?P<val>[^=!<>\s]*)$"
)


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _check_key(key: str, raw: str) -> str:
    name = key.rsplit("/", 1)[-1]
    if not _LABEL_KEY.match(key) or len(name) > 63:
        raise SelectorError(
            f"unable to parse requirement: invalid label key {key!r} in {raw!r}"
        )
    return key


def _check_value(value: str, raw: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise SelectorError(
            f"unable to parse requirement: invalid label value {value!r} in {raw!r}"
        )
    return value


def parse_label_selector(text: str | None) -> LabelSelector:
    """`a=b,c!=d,e in (x,y),!f,g` -> a LabelSelector (SelectorError if bad)."""
    if text is None or not text.strip():
        return LabelSelector()
    requirements = []
    for raw in _split_top_level(text):
        term = raw.strip()
        if not term:
            raise SelectorError(f"found '', expected: identifier in {text!r}")
        if match := _SET_OP.match(term):
            values = tuple(v.strip() for v in match["vals"].split(",") if v.strip())
            if not values:
                raise SelectorError(f"for '{match['op']}' set requirement, need values")
            requirements.append(
                Requirement(
                    _check_key(match["key"], text),
                    match["op"],
                    tuple(_check_value(v, text) for v in values),
                )
            )
        elif term.startswith("!"):
            requirements.append(Requirement(_check_key(term[1:].strip(), text), "!"))
        elif match := _CMP_OP.match(term):
            op = {"==": "=", ">": "gt", "<": "lt"}.get(match["op"], match["op"])
            value = _check_value(match["val"], text)
            if op in ("gt", "lt") and not value.lstrip("-").isdigit():
                raise SelectorError(f"for '{match['op']}', value must be an integer")
            requirements.append(
                Requirement(_check_key(match["key"], text), op, (value,))
            )
        elif re.fullmatch(r"[^\s=!<>(),]+", term):
            requirements.append(Requirement(_check_key(term, text), "exists"))
        else:
            raise SelectorError(f"unable to parse requirement: {term!r}")
    return LabelSelector(tuple(requirements))


# -- field selectors ----------------------------------------------------------------
def _path_getter(*path: str) -> Callable[[dict[str, Any]], str]:
    def get(obj: dict[str, Any]) -> str:
        value: Any = obj
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return get


_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
# Field labels the real apiserver supports per kind (key: "group/plural").
_EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "/pods": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "/events": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "/namespaces": ("status.phase",),
    "/secrets": ("type",),
    "/nodes": ("spec.unschedulable",),
    "batch/jobs": ("status.successful",),
    "apps/replicasets": ("status.replicas",),
}


def field_getter(
    group: str, plural: str, field: str
) -> Callable[[dict[str, Any]], str]:
    """How to read a supported field label from an object (SelectorError if not)."""
    allowed = _COMMON_FIELDS + _EXTRA_FIELDS.get(f"{group}/{plural}", ())
    if field not in allowed:
        raise SelectorError(f'field label not supported: "{field}"')
    if field == "source":
        return _path_getter("source", "component")
    return _path_getter(*field.split("."))


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[tuple[Callable[[dict[str, Any]], str], bool, str], ...] = ()
    names: tuple[str, ...] = ()

    def matches(self, obj: dict[str, Any]) -> bool:
        return all(
            (getter(obj) == value) == equal for getter, equal, value in self.terms
        )


def parse_field_selector(text: str | None, group: str, plural: str) -> FieldSelector:
    """`metadata.name=x,status.phase!=Running` for the given kind."""
    if text is None or not text.strip():
        return FieldSelector()
    terms = []
    names = []
    for raw in text.split(","):
        term = raw.strip()
        match = re.fullmatch(r"([^=!\s]+)\s*(==|=|!=)\s*(.*)", term)
        if not match:
            raise SelectorError(
                f"invalid selector: '{text}'; can't understand '{term}'"
            )
        field, op, value = match.groups()
        terms.append((field_getter(group, plural, field), op != "!=", value))
        if field == "metadata.name" and op != "!=":
            names.append(value)
    return FieldSelector(tuple(terms), tuple(names))
