"""What every mesh adapter provides, and the route-list edits built on it.

An adapter knows one CRD version: where its routes live, what a route's type
is, where the retry block sits and how to translate it. The functions here
turn that into whole-list edits (merge patch replaces lists whole), with no
I/O, so they are tested directly.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chaoslitmus.mesh.policy import PolicyError, RetryPolicy

__all__ = [
    "Adapter",
    "RouteError",
    "RouteInfo",
    "apply_policy",
    "clear_policy",
    "describe_routes",
    "read_policies",
    "select_routes",
    "skipped_report",
    "timeout_warning",
]


class RouteError(PolicyError):
    """The object's routes cannot take the requested edit."""


@dataclass(frozen=True)
class RouteInfo:
    """One entry of the route list, as the user and the output name it."""

    index: int
    label: str
    type: str | None
    # Why this route cannot carry a retry policy; None when it can.
    no_retry_reason: str | None = None


def _no_route_timeout(route: dict) -> tuple[None, bool]:
    del route
    return None, False


@dataclass(frozen=True)
class Adapter:
    """One mesh CRD version, described by pure functions.

    ``describe(route, index)`` names a route and its type; ``get_raw`` and
    ``set_raw`` read and replace its retry block (``None`` removes it);
    ``to_policy`` / ``from_policy`` translate between the raw block and the
    neutral :class:`RetryPolicy` (``from_policy`` gets the old block so it may
    keep keys we do not manage); ``check`` applies the CRD's limits.
    """

    mesh: str
    api_version: str
    group: str
    plural: str
    kind: str
    routes_field: str
    describe: Callable[[dict, int], RouteInfo]
    get_raw: Callable[[dict], dict | None]
    set_raw: Callable[[dict, dict | None], dict]
    to_policy: Callable[[dict], RetryPolicy]
    from_policy: Callable[[RetryPolicy, RouteInfo, dict | None], dict]
    check: Callable[[RetryPolicy], None]
    default_note: str
    # (timeout in ms or None when disabled, True when it is the mesh default)
    route_timeout: Callable[[dict], tuple[int | float | None, bool]] = _no_route_timeout

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.api_version}"

    @property
    def routes_path(self) -> str:
        return f"spec.{self.routes_field}"


def describe_routes(adapter: Adapter, routes: list[Any]) -> list[RouteInfo]:
    """Name every route; a non-object entry is reported, not skipped silently."""
    infos = []
    for index, route in enumerate(routes):
        if not isinstance(route, dict):
            raise RouteError(
                f"{adapter.routes_path}[{index}] is not an object; fix the "
                f"{adapter.kind} before changing its retry policy"
            )
        infos.append(adapter.describe(route, index))
    return infos


def select_routes(
    adapter: Adapter, routes: list[Any], route_name: str | None, object_label: str
) -> tuple[list[RouteInfo], list[RouteInfo]]:
    """Split routes into (to edit, skipped) for ``route_name`` (``None`` = all).

    An unknown name, a named route that cannot retry, or an object with no
    route that can, is an error that says what exists.
    """
    infos = describe_routes(adapter, routes)
    if not infos:
        raise RouteError(
            f"{object_label} has no routes in {adapter.routes_path}; add a route "
            "first (retry policies live on routes)"
        )
    if route_name is not None:
        chosen = [info for info in infos if info.label == route_name]
        if not chosen:
            names = ", ".join(repr(info.label) for info in infos)
            raise RouteError(
                f"{object_label} has no route named {route_name!r}; its routes: {names}"
            )
        info = chosen[0]
        if info.no_retry_reason:
            raise RouteError(
                f"route {route_name!r} of {object_label}: {info.no_retry_reason}"
            )
        return [info], []
    editable = [info for info in infos if not info.no_retry_reason]
    skipped = [info for info in infos if info.no_retry_reason]
    if not editable:
        reasons = "; ".join(f"{i.label!r}: {i.no_retry_reason}" for i in skipped)
        raise RouteError(
            f"{object_label} has no route that takes a retry policy ({reasons})"
        )
    return editable, skipped


def skipped_report(infos: list[RouteInfo]) -> list[dict[str, Any]]:
    """Routes left alone, and why (JSON-friendly)."""
    return [{**_entry(info), "reason": info.no_retry_reason} for info in infos]


def _policy_or_none(adapter: Adapter, raw: dict | None) -> dict | None:
    return None if raw is None else adapter.to_policy(raw).to_dict()


def _entry(info: RouteInfo) -> dict[str, Any]:
    return {"name": info.label, "index": info.index, "type": info.type}


def apply_policy(
    adapter: Adapter, routes: list[Any], chosen: list[RouteInfo], policy: RetryPolicy
) -> tuple[list[Any], list[dict[str, Any]]]:
    """A new route list with ``policy`` on the chosen routes, and a per-route report."""
    adapter.check(policy)
    new_routes = copy.deepcopy(routes)
    report = []
    for info in chosen:
        old_raw = adapter.get_raw(routes[info.index])
        new_raw = adapter.from_policy(policy, info, old_raw)
        new_routes[info.index] = adapter.set_raw(routes[info.index], new_raw)
        entry = {
            **_entry(info),
            "before": _policy_or_none(adapter, old_raw),
            "after": _policy_or_none(adapter, new_raw),
            "changed": old_raw != new_raw,
        }
        warning = timeout_warning(policy, *adapter.route_timeout(routes[info.index]))
        if warning:
            entry["warning"] = warning
        report.append(entry)
    return new_routes, report


def timeout_warning(
    policy: RetryPolicy, timeout_ms: int | float | None, is_default: bool
) -> str | None:
    """Say so when the route timeout ends a request before its retries can run.

    The route timeout covers every try and the back-off between them (Envoy),
    so (max_retries + 1) tries of per_retry_timeout_ms must fit inside it.
    """
    if not timeout_ms or not policy.per_retry_timeout_ms or policy.max_retries is None:
        return None
    tries = policy.max_retries + 1
    worst_ms = tries * policy.per_retry_timeout_ms
    if worst_ms <= timeout_ms:
        return None
    which = "default route timeout" if is_default else "route timeout"
    return (
        f"the {which} ({timeout_ms:g} ms) covers all tries: {tries} tries of "
        f"{policy.per_retry_timeout_ms:g} ms need up to {worst_ms:g} ms, so later "
        "retries may never run; raise the route timeout if that is not intended"
    )


def clear_policy(
    adapter: Adapter, routes: list[Any], chosen: list[RouteInfo]
) -> tuple[list[Any], list[dict[str, Any]]]:
    """A new route list without retry blocks on the chosen routes."""
    new_routes = copy.deepcopy(routes)
    report = []
    for info in chosen:
        old_raw = adapter.get_raw(routes[info.index])
        if old_raw is not None:
            new_routes[info.index] = adapter.set_raw(routes[info.index], None)
        report.append(
            {
                **_entry(info),
                "before": _policy_or_none(adapter, old_raw),
                "after": None,
                "changed": old_raw is not None,
            }
        )
    return new_routes, report


def read_policies(
    adapter: Adapter, routes: list[Any], chosen: list[RouteInfo]
) -> list[dict[str, Any]]:
    """Per route: the policy in the shared vocabulary and the raw block."""
    report = []
    for info in chosen:
        raw = adapter.get_raw(routes[info.index])
        report.append(
            {
                **_entry(info),
                "policy": _policy_or_none(adapter, raw),
                "raw": copy.deepcopy(raw),
            }
        )
    return report
