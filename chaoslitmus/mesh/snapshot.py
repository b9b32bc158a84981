"""The rollback snapshot, kept on the edited object itself.

The annotation ``chaoslitmus.io/original-routes`` holds a JSON document
(format 2)::

    {"version": 2, "field": "spec.routes", "taken_at": "2026-12-01T14:50:03Z",
     "taken_by": {"field_manager": "chaostoolkit-litmus", "host": "...", "pid": 1},
     "routes": [{"name": "ratings-route", "index": 0, "match": null,
                 "label": "ratings-route", "digest": "<16 hex>",
                 "original": null, "ours": {"maxRetries": 3, ...}}, ...]}

Every route of the list at set time is recorded by key and digest (to report
drift); routes we changed also carry their original retry block and the one we
wrote (see :mod:`chaoslitmus.mesh.merge`). It is written in the same merge
patch as the change, under the same resourceVersion precondition, so snapshot
and change land together or not at all; any process can restore later.

Format 1 (earlier releases) was the bare original route list, with the field
in ``chaoslitmus.io/original-routes-field``; it still restores (see
:func:`Snapshot.saved`). All functions are pure.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from chaoslitmus.mesh import merge
from chaoslitmus.mesh.managed_fields import last_writer
from chaoslitmus.mesh.routes import Adapter, RouteError

__all__ = [
    "FORMAT_VERSION",
    "ORIGINAL_FIELD",
    "ORIGINAL_ROUTES",
    "ChangePlan",
    "Snapshot",
    "conflict_message",
    "current_routes",
    "plan_change",
    "read_snapshot",
    "restore_patch",
    "snapshot_document",
]

ORIGINAL_ROUTES = "chaoslitmus.io/original-routes"
# Format 1 only: where the saved list came from.
ORIGINAL_FIELD = "chaoslitmus.io/original-routes-field"
FORMAT_VERSION = 2
# The apiserver rejects objects whose annotations exceed 256 KiB in total.
_ANNOTATIONS_LIMIT = 256 * 1024


def _annotations(obj: dict) -> dict[str, str]:
    annotations = (obj.get("metadata") or {}).get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def _label(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    kind = obj.get("kind", "object")
    return f"{kind} '{meta.get('name')}' in namespace '{meta.get('namespace')}'"


def current_routes(obj: dict, routes_field: str) -> list[Any] | None:
    """The route list as stored, ``None`` when the key is absent."""
    routes = (obj.get("spec") or {}).get(routes_field)
    if routes is not None and not isinstance(routes, list):
        raise RouteError(
            f"{_label(obj)}: spec.{routes_field} is not a list; fix the object first"
        )
    return routes


@dataclass(frozen=True)
class Snapshot:
    """A parsed snapshot: format 2 ``entries`` or format 1 ``legacy_routes``."""

    field: str
    version: int
    entries: tuple[dict[str, Any], ...] = ()
    legacy_routes: tuple[Any, ...] = ()
    taken_at: str | None = None
    taken_by: dict[str, Any] = field(default_factory=dict)

    def saved(self, adapter: Adapter) -> list[merge.SavedRoute]:
        """The routes as :mod:`merge` needs them.

        Format 1 recorded the whole original list but not what we wrote: every
        route that can retry counts as changed, with ``ours`` unknown, so the
        restore puts its original retry block back whatever it holds now.
        """
        if self.version == 1:
            result = []
            for index, route in enumerate(self.legacy_routes):
                if not isinstance(route, dict):
                    continue
                can_retry = adapter.describe(route, index).no_retry_reason is None
                result.append(
                    merge.SavedRoute(
                        merge.key_of(adapter, route, index),
                        merge.digest(adapter, route),
                        can_retry,
                        adapter.get_raw(route) if can_retry else None,
                        merge.UNKNOWN if can_retry else None,
                    )
                )
            return result
        return [
            merge.SavedRoute(
                merge.RouteKey(e["name"], e["index"], e["match"], e["label"]),
                e["digest"],
                "ours" in e,
                e.get("original"),
                e.get("ours"),
            )
            for e in self.entries
        ]

    @property
    def taken(self) -> str:
        """When and by whom, for messages."""
        when = self.taken_at or "at an unknown time (format 1)"
        by = self.taken_by.get("field_manager")
        where = self.taken_by.get("host")
        who = f" by {by}" + (f" on {where}" if where else "") if by else ""
        return f"{when}{who}"


def _malformed(obj: dict, why: str) -> RouteError:
    return RouteError(
        f"{_label(obj)}: annotation {ORIGINAL_ROUTES} is not a snapshot this tool "
        f"wrote ({why}); nothing was changed: check the routes by hand, then delete "
        "the annotation"
    )


def _optional_block(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _check_entry(entry: Any) -> str | None:
    """Why a format-2 route entry is malformed, or ``None``."""
    if not isinstance(entry, dict):
        return "a route entry is not an object"
    if not (entry.get("name") is None or isinstance(entry.get("name"), str)):
        return "a route name is not a string"
    index = entry.get("index")
    if type(index) is not int or index < 0:
        return "a route index is not a non-negative integer"
    for key in ("match", "label", "digest"):
        if key in entry and not (entry[key] is None or isinstance(entry[key], str)):
            return f"a route {key} is not a string"
    if not isinstance(entry.get("digest"), str):
        return "a route has no digest"
    if entry.get("name") is None and not isinstance(entry.get("match"), str):
        return "an unnamed route has no match fingerprint"
    if ("ours" in entry) != ("original" in entry):
        return "a route has 'ours' without 'original' or the reverse"
    if not (
        _optional_block(entry.get("original")) and _optional_block(entry.get("ours"))
    ):
        return "a retry block is not an object or null"
    return None


def read_snapshot(obj: dict, routes_field: str) -> Snapshot | None:
    """The snapshot on ``obj``, or ``None``; a damaged one is an error, not ignored."""
    annotations = _annotations(obj)
    if ORIGINAL_ROUTES not in annotations:
        return None
    try:
        document = json.loads(annotations[ORIGINAL_ROUTES])
    except (TypeError, ValueError):
        raise _malformed(obj, "not JSON") from None
    if isinstance(document, list):
        source = annotations.get(ORIGINAL_FIELD, f"spec.{routes_field}")
        snapshot = Snapshot(source, 1, legacy_routes=tuple(document))
    elif isinstance(document, dict):
        snapshot = _format_2(obj, document)
    else:
        shown = json.dumps(document)[:40]
        raise _malformed(
            obj, f"{shown} is neither a route list nor a format-2 document"
        )
    if snapshot.field != f"spec.{routes_field}":
        raise RouteError(
            f"{_label(obj)} has a snapshot of {snapshot.field}, but this API version "
            f"keeps routes in spec.{routes_field}; restore with the api_version that "
            "made it"
        )
    return snapshot


def _format_2(obj: dict, document: dict) -> Snapshot:
    version = document.get("version")
    if version != FORMAT_VERSION:
        raise _malformed(
            obj,
            f"format version {version!r}; this release reads 1 and {FORMAT_VERSION}",
        )
    source, routes = document.get("field"), document.get("routes")
    if not isinstance(source, str) or not isinstance(routes, list):
        raise _malformed(obj, "no 'field' string or no 'routes' list")
    for entry in routes:
        why = _check_entry(entry)
        if why:
            raise _malformed(obj, why)
    taken_at = document.get("taken_at")
    taken_by = document.get("taken_by")
    return Snapshot(
        source,
        FORMAT_VERSION,
        entries=tuple(routes),
        taken_at=taken_at if isinstance(taken_at, str) else None,
        taken_by=taken_by if isinstance(taken_by, dict) else {},
    )


def snapshot_document(
    routes_field: str,
    saved: list[merge.SavedRoute],
    taken_at: str,
    taken_by: dict[str, Any],
) -> str:
    """The annotation text (compact JSON, keys in a stable order)."""
    document = {
        "version": FORMAT_VERSION,
        "field": f"spec.{routes_field}",
        "taken_at": taken_at,
        "taken_by": taken_by,
        "routes": [entry.to_dict() for entry in saved],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _precondition(obj: dict) -> dict[str, Any]:
    """Metadata that makes the patch fail with 409 if the object moved on."""
    version = (obj.get("metadata") or {}).get("resourceVersion")
    return {"resourceVersion": version} if version else {}


def _who(obj: dict, routes_field: str) -> str:
    writer = last_writer(obj, ("spec", routes_field))
    if not writer:
        return ""
    return f" by '{writer['manager']}' at {writer['time']} (managedFields)"


@dataclass
class ChangePlan:
    """The merge patch of a set/remove (``None``: nothing to send) and the snapshot."""

    patch: dict | None
    # "taken" | "adopted" | "discarded-stale" | "none"
    snapshot: str
    discarded: dict[str, Any] | None = None
    deleted_routes: list[str] = field(default_factory=list)


def plan_change(
    obj: dict,
    adapter: Adapter,
    new_routes: list[Any],
    taken_at: str,
    taken_by: dict[str, Any],
    discard_stale: bool = False,
) -> ChangePlan:
    """Merge patch for a change, taking, adopting or (if asked) replacing the snapshot.

    A leftover snapshot is adopted only when every route it changed still
    holds what it wrote (the crash case), so its originals stay the true ones;
    otherwise this refuses, unless ``discard_stale`` drops it for a new one.
    """
    routes_field = adapter.routes_field
    routes = current_routes(obj, routes_field) or []
    existing = read_snapshot(obj, routes_field)
    state, discarded, deleted = "taken", None, []
    if existing is not None:
        saved = existing.saved(adapter)
        stale = merge.staleness(adapter, saved, routes)
        if stale.stale and not discard_stale:
            raise RouteError(_stale_message(obj, routes_field, existing, stale))
        if stale.stale:
            state = "discarded-stale"
            discarded = {
                "taken": existing.taken,
                "routes": [entry.to_dict() for entry in saved if entry.changed],
            }
        else:
            state, deleted = "adopted", stale.deleted
            updated = merge.update_saved(adapter, saved, routes, new_routes)
            if new_routes == routes:
                return ChangePlan(None, state, None, deleted)
            text = snapshot_document(
                routes_field, updated, existing.taken_at or taken_at, existing.taken_by
            )
            patch = _patch(obj, routes_field, new_routes, text)
            return ChangePlan(patch, state, None, deleted)
    if new_routes == routes and existing is None:
        return ChangePlan(None, "none")
    saved = merge.saved_routes(adapter, routes, new_routes)
    text = snapshot_document(routes_field, saved, taken_at, taken_by)
    return ChangePlan(_patch(obj, routes_field, new_routes, text), state, discarded)


def _patch(obj: dict, routes_field: str, new_routes: list[Any], text: str) -> dict:
    """The routes (only if they change) and the snapshot, under the precondition."""
    others = {k: v for k, v in _annotations(obj).items() if k != ORIGINAL_ROUTES}
    size = len(text.encode()) + sum(len(k) + len(str(v)) for k, v in others.items())
    if size > _ANNOTATIONS_LIMIT:
        raise RouteError(
            f"{_label(obj)}: its routes are too large to snapshot in an annotation "
            f"({size} bytes > 256 KiB); back them up and edit by hand"
        )
    annotations: dict[str, Any] = {ORIGINAL_ROUTES: text}
    if ORIGINAL_FIELD in others:
        annotations[ORIGINAL_FIELD] = None
    patch: dict[str, Any] = {
        "metadata": {**_precondition(obj), "annotations": annotations}
    }
    if new_routes != current_routes(obj, routes_field):
        patch["spec"] = {routes_field: copy.deepcopy(new_routes)}
    return patch


def _stale_message(
    obj: dict, routes_field: str, existing: Snapshot, stale: merge.Staleness
) -> str:
    if stale.unknown_ours:
        since = (
            "it is in the format of an earlier release, which did not record what "
            "that run wrote, so it cannot be checked"
        )
    else:
        changes = ", ".join(
            f"route '{c['name']}' now has retry policy {merge.compact(c['now'])} "
            f"(that run wrote {merge.compact(c['ours'])})"
            for c in stale.changed
        )
        since = f"since then {changes}{_who(obj, routes_field)}"
    return (
        f"{_label(obj)} still has a snapshot from an earlier run (taken "
        f"{existing.taken}) and {since}; nothing was changed: run "
        "restore_retry_policy to go back to the state before that run, or pass "
        "discard_stale_snapshot=true to drop that snapshot and start from the "
        "current routes"
    )


def conflict_message(obj: dict, routes_field: str, conflicts: list[dict]) -> str:
    """One line: what someone else changed since our write, by whom, how to force."""
    changes = ", ".join(
        f"route '{c['name']}' now has retry policy {merge.compact(c['now'])} "
        f"(we wrote {merge.compact(c['ours'])}, original "
        f"{merge.compact(c['original'])})"
        for c in conflicts
    )
    return (
        f"{_label(obj)}: not restored, the retry policy was changed by someone else "
        f"since set_retry_policy wrote it: {changes}{_who(obj, routes_field)}; "
        "nothing was changed: to put back the original retry policy anyway, run "
        "restore_retry_policy with force=true"
    )


def restore_patch(obj: dict, routes_field: str, merged: list[Any] | None) -> dict:
    """Merge patch: the merged routes (if they differ), our annotations gone.

    When ours were the only annotations the whole map is removed, so the
    object ends as it began (an apiserver never stores an empty map).
    """
    ours = {ORIGINAL_ROUTES, ORIGINAL_FIELD}
    others = set(_annotations(obj)) - ours
    annotations: dict[str, None] | None = (
        {key: None for key in sorted(ours) if key in _annotations(obj)}
        if others
        else None
    )
    patch: dict[str, Any] = {
        "metadata": {**_precondition(obj), "annotations": annotations}
    }
    if merged is not None and merged != current_routes(obj, routes_field):
        patch["spec"] = {routes_field: merged}
    return patch
