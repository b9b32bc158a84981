"""The rollback snapshot: the original route list, kept on the object itself.

Before the first change, the exact route list (JSON text) goes into an
annotation of the edited object, in the same merge patch as the change and
under the same resourceVersion precondition, so the snapshot and the change
land together or not at all. Any process that can read the object can undo the
change later, even after the one that made it crashed.

All functions are pure: they build merge-patch bodies from objects.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from chaoslitmus.mesh.routes import RouteError

__all__ = [
    "ORIGINAL_FIELD",
    "ORIGINAL_ROUTES",
    "Snapshot",
    "change_patch",
    "current_routes",
    "read_snapshot",
    "restore_patch",
]

ORIGINAL_ROUTES = "chaoslitmus.io/original-routes"
ORIGINAL_FIELD = "chaoslitmus.io/original-routes-field"
# The apiserver rejects objects whose annotations exceed 256 KiB in total.
_ANNOTATIONS_LIMIT = 256 * 1024


@dataclass(frozen=True)
class Snapshot:
    """A saved route list; ``routes`` is ``None`` when the field was absent."""

    field: str
    routes: list[Any] | None


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


def read_snapshot(obj: dict, routes_field: str) -> Snapshot | None:
    """The snapshot on ``obj``, or ``None``; a damaged one is an error, not ignored."""
    annotations = _annotations(obj)
    if ORIGINAL_ROUTES not in annotations:
        return None
    field = annotations.get(ORIGINAL_FIELD, f"spec.{routes_field}")
    if field != f"spec.{routes_field}":
        raise RouteError(
            f"{_label(obj)} has a snapshot of {field}, but this API version keeps "
            f"routes in spec.{routes_field}; restore with the api_version that made it"
        )
    try:
        routes = json.loads(annotations[ORIGINAL_ROUTES])
    except (TypeError, ValueError):
        routes = ""
    if routes is not None and not isinstance(routes, list):
        raise RouteError(
            f"{_label(obj)}: annotation {ORIGINAL_ROUTES} is not a JSON route list; "
            "restore the routes by hand and delete the annotation"
        )
    return Snapshot(field, routes)


def _precondition(obj: dict) -> dict[str, Any]:
    """Metadata that makes the patch fail with 409 if the object moved on."""
    version = (obj.get("metadata") or {}).get("resourceVersion")
    return {"resourceVersion": version} if version else {}


def change_patch(obj: dict, routes_field: str, new_routes: list[Any]) -> dict:
    """Merge patch: the new route list, plus the snapshot if none exists yet.

    A second change keeps the first snapshot, so restore always goes back to
    the state before the first change.
    """
    metadata = _precondition(obj)
    if read_snapshot(obj, routes_field) is None:
        original = current_routes(obj, routes_field)
        text = json.dumps(original, ensure_ascii=False, separators=(",", ":"))
        size = len(text.encode()) + sum(
            len(k) + len(str(v)) for k, v in _annotations(obj).items()
        )
        if size > _ANNOTATIONS_LIMIT:
            raise RouteError(
                f"{_label(obj)}: its routes are too large to snapshot in an "
                f"annotation ({size} bytes > 256 KiB); back them up and edit by hand"
            )
        metadata["annotations"] = {
            ORIGINAL_ROUTES: text,
            ORIGINAL_FIELD: f"spec.{routes_field}",
        }
    return {"metadata": metadata, "spec": {routes_field: copy.deepcopy(new_routes)}}


def restore_patch(obj: dict, snapshot: Snapshot) -> dict:
    """Merge patch: the saved list back (``null`` if it was absent), annotations gone.

    When ours were the only annotations the whole map is removed, so the
    object ends as it began (an apiserver never stores an empty map).
    """
    routes_field = snapshot.field.removeprefix("spec.")
    others = set(_annotations(obj)) - {ORIGINAL_ROUTES, ORIGINAL_FIELD}
    annotations: dict[str, None] | None = (
        {ORIGINAL_ROUTES: None, ORIGINAL_FIELD: None} if others else None
    )
    metadata = {**_precondition(obj), "annotations": annotations}
    return {
        "metadata": metadata,
        "spec": {routes_field: copy.deepcopy(snapshot.routes)},
    }
