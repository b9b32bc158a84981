"""The sweep's plan, pure: the grid of faults x policies, and the pruning.

A plan comes from the command line or a YAML/JSON file with the same keys
(`latency_ms`, `max_retries`, `per_try_ms`, ...). Policies whose per-try
timeout is at or above the caller's timeout are pruned before anything runs:
the caller gives up before the first try times out, so no retry can ever
start in time (the retry budget, docs/mesh-behaviour.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from chaoslitmus.mesh.budget import retry_budget_of

__all__ = [
    "Cell",
    "Fault",
    "Plan",
    "PlanError",
    "Policy",
    "Target",
    "cells_of",
    "plan_from_mapping",
    "prune",
]


class PlanError(ValueError):
    """A plan the sweep cannot run; the message is one line."""


@dataclass(frozen=True)
class Fault:
    latency_ms: int
    pods_affected_perc: int

    @property
    def label(self) -> str:
        return f"{self.latency_ms} ms on {self.pods_affected_perc}% of pods"


@dataclass(frozen=True)
class Policy:
    max_retries: int
    per_retry_timeout_ms: int
    http_retry_events: tuple[str, ...] = ("server-error",)

    @property
    def label(self) -> str:
        return f"{self.max_retries} x {self.per_retry_timeout_ms} ms"

    def arguments(self) -> dict[str, Any]:
        """The policy as set_retry_policy's arguments."""
        return {
            "max_retries": self.max_retries,
            "per_retry_timeout_ms": self.per_retry_timeout_ms,
            "http_retry_events": list(self.http_retry_events),
        }


@dataclass(frozen=True)
class Cell:
    index: int
    fault: Fault
    policy: Policy


@dataclass(frozen=True)
class Target:
    """Where the sweep runs: the same names the experiments read."""

    url: str
    namespace: str = "bookinfo"
    mesh: str = "appmesh"
    mesh_object: str = "ratings.bookinfo.svc.cluster.local"
    mesh_api_version: str = "auto"
    app_label: str = "app=ratings"
    caller_label: str = "app=reviews"
    upstream_cluster: str = "ratings"
    engine_name: str = "chaoslitmus-sweep"
    degraded_marker: str = ""


@dataclass(frozen=True)
class Plan:
    latency_ms: tuple[int, ...]
    max_retries: tuple[int, ...]
    per_try_ms: tuple[int, ...]
    caller_timeout_ms: int
    slo_error_ratio: float
    slo_p99_ms: float
    pods_affected_perc: tuple[int, ...] = (50,)
    http_retry_events: tuple[str, ...] = ("server-error",)
    fault_s: float = 10.0
    rate_per_s: float = 10.0
    settle_timeout_s: float = 120.0
    target: Target = field(default_factory=lambda: Target(url=""))

    def faults(self) -> list[Fault]:
        return [
            Fault(latency, perc)
            for latency in self.latency_ms
            for perc in self.pods_affected_perc
        ]

    def policies(self) -> list[Policy]:
        return [
            Policy(retries, per_try, self.http_retry_events)
            for retries in self.max_retries
            for per_try in self.per_try_ms
        ]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out


_LISTS = ("latency_ms", "max_retries", "per_try_ms", "pods_affected_perc")
_NUMBERS = ("caller_timeout_ms", "slo_error_ratio", "slo_p99_ms", "fault_s")
_OPTIONAL = ("rate_per_s", "settle_timeout_s")
_TARGET_KEYS = {f.name for f in fields(Target)}


def plan_from_mapping(values: Mapping[str, Any]) -> Plan:
    """A checked Plan from a mapping (a plan file, or the parsed flags)."""
    unknown = sorted(
        set(values)
        - set(_LISTS)
        - set(_NUMBERS)
        - set(_OPTIONAL)
        - {"http_retry_events"}
        - _TARGET_KEYS
    )
    if unknown:
        raise PlanError(f"unknown plan key(s): {', '.join(unknown)}")
    lists = {key: _int_list(values, key) for key in _LISTS if key in values}
    for key in ("latency_ms", "max_retries", "per_try_ms"):
        if key not in lists:
            raise PlanError(f"the plan needs {key} (a list of integers)")
    for key, minimum in (("latency_ms", 1), ("per_try_ms", 1), ("max_retries", 0)):
        low = [v for v in lists[key] if v < minimum]
        if low:
            raise PlanError(f"{key} values must be >= {minimum}, got {low[0]}")
    bad = [v for v in lists.get("pods_affected_perc", [50]) if not 0 < v <= 100]
    if bad:
        raise PlanError(f"pods_affected_perc values must be 1-100, got {bad[0]}")
    numbers = {
        key: _number(values, key) for key in _NUMBERS + _OPTIONAL if key in values
    }
    if "caller_timeout_ms" not in numbers:
        raise PlanError("the plan needs caller_timeout_ms (how long callers wait)")
    numbers.setdefault("slo_p99_ms", numbers["caller_timeout_ms"])
    numbers.setdefault("slo_error_ratio", 0.01)
    if not 0 <= numbers["slo_error_ratio"] <= 1:
        raise PlanError("slo_error_ratio must be between 0 and 1")
    for key in ("caller_timeout_ms", "slo_p99_ms", "fault_s", "rate_per_s"):
        if key in numbers and numbers[key] <= 0:
            raise PlanError(f"{key} must be > 0, got {numbers[key]:g}")
    events = values.get("http_retry_events", ["server-error"])
    if isinstance(events, str):
        events = [e.strip() for e in events.split(",") if e.strip()]
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise PlanError("http_retry_events must be a list of event names")
    target = {k: str(values[k]) for k in _TARGET_KEYS if values.get(k) is not None}
    if not target.get("url"):
        raise PlanError(
            "no URL to measure: pass --url or set REVIEWS_URL "
            "(`chaoslitmus lab run -- chaoslitmus sweep ...` exports it)"
        )
    return Plan(
        **{k: tuple(_unique(v)) for k, v in lists.items()},
        **{k: v for k, v in numbers.items()},
        http_retry_events=tuple(events),
        target=Target(**target),
    )


def prune(plan: Plan) -> tuple[list[Policy], list[dict[str, Any]]]:
    """(policies to run, pruned policies with the reason) for the caller."""
    kept: list[Policy] = []
    pruned: list[dict[str, Any]] = []
    for policy in plan.policies():
        budget = retry_budget_of(
            plan.caller_timeout_ms, policy.max_retries, policy.per_retry_timeout_ms
        )
        if policy.per_retry_timeout_ms >= plan.caller_timeout_ms:
            reason = (
                f"per-try timeout {policy.per_retry_timeout_ms} ms is at or above the "
                f"caller's timeout ({plan.caller_timeout_ms:g} ms): the caller gives "
                "up before a slow try is cut, so no retry can ever help"
            )
        elif policy.max_retries > 0 and budget["useful_retries"] == 0:
            reason = budget["sentence"]
        else:
            kept.append(policy)
            continue
        pruned.append(
            {"policy": policy.arguments(), "label": policy.label, "reason": reason}
        )
    return kept, pruned


def cells_of(plan: Plan, policies: list[Policy]) -> list[Cell]:
    """Every fault x policy, fault-major (one fault's policies side by side)."""
    pairs = [(fault, policy) for fault in plan.faults() for policy in policies]
    return [Cell(i, fault, policy) for i, (fault, policy) in enumerate(pairs)]


def _int_list(values: Mapping[str, Any], key: str) -> list[int]:
    raw = values[key]
    if isinstance(raw, (int, str)) and not isinstance(raw, bool):
        raw = [raw] if isinstance(raw, int) else raw.split(",")
    if not isinstance(raw, list) or not raw:
        raise PlanError(f"{key} must be a non-empty list of integers, got {raw!r}")
    out = []
    for item in raw:
        try:
            if isinstance(item, bool) or (
                isinstance(item, float) and not item.is_integer()
            ):
                raise ValueError
            out.append(int(str(item).strip()) if isinstance(item, str) else int(item))
        except ValueError:
            raise PlanError(f"{key} must be integers, got {item!r}") from None
    return out


def _number(values: Mapping[str, Any], key: str) -> float:
    raw = values[key]
    try:
        if isinstance(raw, bool):
            raise ValueError
        return float(raw)
    except (TypeError, ValueError):
        raise PlanError(f"{key} must be a number, got {raw!r}") from None


def _unique(items: list[int]) -> list[int]:
    return list(dict.fromkeys(items))
