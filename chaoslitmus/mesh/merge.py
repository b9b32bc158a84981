"""Restore as a three-way merge, and whether a leftover snapshot may be adopted.

For every route we changed, the snapshot holds the *original* retry block
(base) and the block *we wrote* (ours); the object holds what is there *now*
(theirs). Restoring puts the original block back only where theirs is still
ours, and leaves every other part of the route list as it is now (routes
added by others, weights, matches...). What others changed outside the retry
blocks is reported as drift. Which blocks count as "retry settings" is the
adapter's ``get_raw``/``set_raw``: App Mesh ``retryPolicy``, Istio ``retries``
(``set_retry_policy`` never touches Istio's ``timeout``).

Routes are identified by name; an unnamed route (Istio allows them) by its
index and a fingerprint of its match conditions, then, if something moved
it, by that fingerprint alone when exactly one unnamed route has it.

The mesh facts this relies on (whole-list writes, route names, what the
retry block covers) are in docs/mesh-behaviour.md, "Restoring retry
settings". Pure functions only: the I/O lives in
:mod:`chaoslitmus.mesh.cluster`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from chaoslitmus.mesh.routes import Adapter

__all__ = [
    "UNKNOWN",
    "Drift",
    "RestorePlan",
    "RouteKey",
    "SavedRoute",
    "Staleness",
    "compact",
    "digest",
    "find_route",
    "key_of",
    "plan_restore",
    "restore_message",
    "saved_routes",
    "staleness",
    "update_saved",
]


class _Unknown:
    """What we wrote, for snapshots older than the record of it (format 1)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compact(value: Any) -> str:
    """A retry block as short JSON for a one-line message (``none`` if absent)."""
    return "none" if value is None else _canonical(value)


def _hash(value: Any) -> str:
    return hashlib.sha256(_canonical(value).encode()).hexdigest()[:16]


def _match_of(route: dict) -> Any:
    """The route's match conditions: Istio's ``match``, App Mesh's ``<type>.match``."""
    if "match" in route:
        return route["match"]
    for value in route.values():
        if isinstance(value, dict) and "match" in value:
            return value["match"]
    return None


@dataclass(frozen=True)
class RouteKey:
    """How a route is found again: its name, else index + match fingerprint."""

    name: str | None
    index: int
    match: str | None = None
    # How outputs name it (``http[1]`` for an unnamed Istio route).
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "index": self.index,
            "match": self.match,
            "label": self.label,
        }


def key_of(adapter: Adapter, route: dict, index: int) -> RouteKey:
    label = adapter.describe(route, index).label
    name = route.get("name")
    if isinstance(name, str) and name:
        return RouteKey(name, index, None, label)
    return RouteKey(None, index, _hash(_match_of(route)), label)


def _unnamed_match(route: Any) -> str | None:
    """The match fingerprint of an unnamed route (``None`` for named ones)."""
    if not isinstance(route, dict):
        return None
    name = route.get("name")
    if isinstance(name, str) and name:
        return None
    return _hash(_match_of(route))


def digest(adapter: Adapter, route: dict) -> str:
    """A fingerprint of the route without its retry block (to see others' edits)."""
    if adapter.get_raw(route) is not None:
        route = adapter.set_raw(route, None)
    return _hash(route)


def find_route(key: RouteKey, routes: list[Any]) -> int | None:
    """Where the route ``key`` names is now, or ``None`` when it is gone."""
    if key.name:
        found = [
            i
            for i, r in enumerate(routes)
            if isinstance(r, dict) and r.get("name") == key.name
        ]
        if key.index in found:
            return key.index
        return found[0] if found else None
    unnamed = {
        i: match
        for i, r in enumerate(routes)
        if (match := _unnamed_match(r)) is not None
    }
    if unnamed.get(key.index) == key.match:
        return key.index
    same = [i for i, match in unnamed.items() if match == key.match]
    return same[0] if len(same) == 1 else None


@dataclass(frozen=True)
class SavedRoute:
    """One route as the snapshot knows it.

    ``changed``: we wrote its retry block; ``original`` is the block before
    (``None``: absent) and ``ours`` what we wrote (``UNKNOWN`` in format 1).
    """

    key: RouteKey
    digest: str
    changed: bool = False
    original: dict | None = None
    ours: Any = None

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {**self.key.to_dict(), "digest": self.digest}
        if self.changed:
            entry["original"] = copy.deepcopy(self.original)
            entry["ours"] = copy.deepcopy(self.ours)
        return entry


def saved_routes(
    adapter: Adapter, routes: list[Any], new_routes: list[Any]
) -> list[SavedRoute]:
    """A fresh record: each route's key and digest, retry blocks where we change."""
    return [
        _first_record(adapter, route, new_routes[index], index)
        for index, route in enumerate(routes)
        if isinstance(route, dict)
    ]


def _first_record(
    adapter: Adapter, route: dict, new_route: Any, index: int
) -> SavedRoute:
    """A route's record the first time we see it: its retry blocks before and
    after the change, kept only when the change touches them."""
    before = adapter.get_raw(route)
    after = adapter.get_raw(new_route)
    changed = before != after
    return SavedRoute(
        key_of(adapter, route, index),
        digest(adapter, route),
        changed,
        copy.deepcopy(before) if changed else None,
        copy.deepcopy(after) if changed else None,
    )


def update_saved(
    adapter: Adapter,
    saved: list[SavedRoute],
    routes: list[Any],
    new_routes: list[Any],
) -> list[SavedRoute]:
    """An adopted record after one more change: first originals kept, ``ours`` moved on.

    Routes changed for the first time now get their current block as original;
    routes the record did not know (added by others since) are appended.
    """
    result = list(saved)
    claimed = set()
    for position, entry in enumerate(saved):
        index = find_route(entry.key, routes)
        if index is None:
            continue
        claimed.add(index)
        now = adapter.get_raw(routes[index])
        after = adapter.get_raw(new_routes[index])
        if after == now:
            continue
        original = entry.original if entry.changed else copy.deepcopy(now)
        result[position] = SavedRoute(
            entry.key, entry.digest, True, original, copy.deepcopy(after)
        )
    for index, route in enumerate(routes):
        if index in claimed or not isinstance(route, dict):
            continue
        result.append(_first_record(adapter, route, new_routes[index], index))
    return result


@dataclass
class Drift:
    """What others changed in the route list outside the retry blocks."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, list[str]]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed}

    def summary(self) -> str:
        parts = []
        for names, what in (
            (self.added, "added"),
            (self.removed, "removed"),
            (self.changed, "changed outside its retry policy"),
        ):
            if names:
                listed = ", ".join(repr(n) for n in names)
                parts.append(f"route(s) {listed} {what}")
        return "; ".join(parts) if parts else "none"


def _drift(adapter: Adapter, saved: list[SavedRoute], routes: list[Any]) -> Drift:
    drift = Drift()
    claimed = set()
    for entry in saved:
        index = find_route(entry.key, routes)
        if index is None:
            drift.removed.append(entry.key.label)
            continue
        claimed.add(index)
        if digest(adapter, routes[index]) != entry.digest:
            drift.changed.append(_label(adapter, routes, index))
    for index, route in enumerate(routes):
        if index not in claimed and isinstance(route, dict):
            drift.added.append(_label(adapter, routes, index))
    return drift


def _label(adapter: Adapter, routes: list[Any], index: int) -> str:
    return adapter.describe(routes[index], index).label


def _policy(adapter: Adapter, raw: Any) -> dict | None:
    if raw is None or raw is UNKNOWN or not isinstance(raw, dict):
        return None
    return adapter.to_policy(raw).to_dict()


@dataclass
class RestorePlan:
    """The merged route list, what happens per route, and the drift."""

    routes: list[Any]
    report: list[dict[str, Any]]
    conflicts: list[dict[str, Any]]
    drift: Drift

    @property
    def routes_changed(self) -> bool:
        return any(entry["changed"] for entry in self.report)


def plan_restore(
    adapter: Adapter, saved: list[SavedRoute], routes: list[Any], force: bool = False
) -> RestorePlan:
    """Three-way merge of the retry blocks we changed into the routes as they are now.

    Per changed route: now == ours -> original back ("restored"); now ==
    original -> nothing to do ("already-original"); otherwise someone else
    changed it: a conflict, restored anyway only with ``force`` ("forced").
    A route that is gone is "deleted" (nothing to restore). With ``ours``
    unknown (format-1 snapshots), now counts as ours: the original comes back.
    """
    merged = copy.deepcopy(routes)
    report, conflicts = [], []
    for entry in saved:
        if not entry.changed:
            continue
        index = find_route(entry.key, routes)
        row: dict[str, Any] = {
            "name": entry.key.label,
            "index": index,
            "original": _policy(adapter, entry.original),
        }
        if index is None:
            report.append({**row, "status": "deleted", "changed": False})
            continue
        info = adapter.describe(routes[index], index)
        row.update(name=info.label, type=info.type)
        now = adapter.get_raw(routes[index])
        row["before"] = _policy(adapter, now)
        if info.no_retry_reason:
            status = "already-original" if entry.original is None else "cannot-retry"
            report.append({**row, "after": row["before"], "status": status})
            report[-1]["changed"] = False
            continue
        if now == entry.original:
            status = "already-original"
        elif entry.ours is UNKNOWN or now == entry.ours:
            status = "restored"
        else:
            status = "forced" if force else "conflict"
            conflicts.append(
                {
                    "name": info.label,
                    "now": copy.deepcopy(now),
                    "ours": copy.deepcopy(entry.ours),
                    "original": copy.deepcopy(entry.original),
                }
            )
        put_back = status in ("restored", "forced")
        if put_back:
            merged[index] = adapter.set_raw(routes[index], entry.original)
        after = entry.original if put_back else now
        report.append(
            {
                **row,
                "after": _policy(adapter, after),
                "status": status,
                "changed": put_back and now != entry.original,
            }
        )
    return RestorePlan(merged, report, conflicts, _drift(adapter, saved, routes))


def restore_message(object_label: str, plan: RestorePlan | None) -> str:
    """The one-line summary of a restore (``plan=None``: no snapshot)."""
    if plan is None:
        return (
            f"nothing to restore: {object_label} has no saved retry settings "
            "(no change was made, or it was already restored)"
        )
    count = sum(1 for entry in plan.report if entry["changed"])
    message = f"original retry settings of {count} route(s) of {object_label} "
    message += "restored" + (" (forced)" if plan.conflicts else "")
    if plan.drift:
        message += "; others changed the routes meanwhile (kept): "
        message += plan.drift.summary()
    return message


@dataclass
class Staleness:
    """Why a leftover snapshot cannot be adopted (empty: it can)."""

    changed: list[dict[str, Any]] = field(default_factory=list)
    unknown_ours: bool = False
    deleted: list[str] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        return bool(self.changed) or self.unknown_ours


def staleness(
    adapter: Adapter, saved: list[SavedRoute], routes: list[Any]
) -> Staleness:
    """Adopt a snapshot only if every route it changed still holds what it wrote.

    That is the crash case: the run that wrote it never restored, nobody else
    touched those retry blocks, so its originals are still the true ones. A
    route that is gone does not block adoption (nothing to restore for it).
    """
    result = Staleness()
    for entry in saved:
        if not entry.changed:
            continue
        if entry.ours is UNKNOWN:
            result.unknown_ours = True
            continue
        index = find_route(entry.key, routes)
        if index is None:
            result.deleted.append(entry.key.label)
            continue
        now = adapter.get_raw(routes[index])
        if now != entry.ours:
            result.changed.append(
                {
                    "name": _label(adapter, routes, index),
                    "now": copy.deepcopy(now),
                    "ours": copy.deepcopy(entry.ours),
                }
            )
    return result
