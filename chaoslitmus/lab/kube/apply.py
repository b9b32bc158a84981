"""Server-side apply (`kubectl apply --server-side`), simplified.

A PATCH of type `application/apply-patch+yaml` names a field manager. The
manager then owns exactly the fields its configuration sets; applying a
value different from the live one on a field another manager owns is a 409
conflict listing each field and owner, unless `force=true` (ownership moves
to the applier); fields the manager applied before and leaves out now are
removed when no one else owns them. Ownership is kept in
`metadata.managedFields` (FieldsV1). Once an object has managed fields,
ordinary writes record an `Update` entry for their manager too (the
`fieldManager` parameter, else the client's user agent), so a later apply
conflicts with, say, `kubectl scale`.

Simpler than Kubernetes (structured-merge-diff): lists are atomic (owned
and replaced whole), only `metadata.labels`/`annotations` are tracked in
metadata, and objects never applied to carry no managed fields.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError, bad_request
from .objects import now

__all__ = ["apply_config"]

Path = tuple[str, ...]
_TRACKED_META = ("labels", "annotations")


def _leaves(obj: Any, prefix: Path = ()) -> dict[Path, Any]:
    if isinstance(obj, dict) and obj:
        out: dict[Path, Any] = {}
        for key, value in obj.items():
            out.update(_leaves(value, (*prefix, key)))
        return out
    return {prefix: obj}


def leaf_paths(obj: dict[str, Any]) -> dict[Path, Any]:
    """The fields an object (or apply configuration) sets, with their values."""
    out: dict[Path, Any] = {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind", "status"):
            continue
        if key == "metadata":
            for meta_key in _TRACKED_META:
                if isinstance(value, dict) and isinstance(value.get(meta_key), dict):
                    out.update(_leaves(value[meta_key], ("metadata", meta_key)))
            continue
        out.update(_leaves(value, (key,)))
    return {path: v for path, v in out.items() if v != {}}


def _get(obj: Any, path: Path) -> tuple[bool, Any]:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return False, None
        obj = obj[key]
    return True, obj


def _set(obj: dict[str, Any], path: Path, value: Any) -> None:
    for key in path[:-1]:
        nxt = obj.get(key)
        if not isinstance(nxt, dict):
            nxt = obj[key] = {}
        obj = nxt
    obj[path[-1]] = copy.deepcopy(value)


def _remove(obj: dict[str, Any], path: Path) -> None:
    parents = []
    for key in path[:-1]:
        if not isinstance(obj.get(key), dict):
            return
        parents.append((obj, key))
        obj = obj[key]
    obj.pop(path[-1], None)
    for parent, key in reversed(parents):  # drop maps left empty
        if parent[key] == {}:
            del parent[key]


def _to_fields(paths: set[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return root


def _from_fields(fields: Any, prefix: Path = ()) -> set[Path]:
    if not isinstance(fields, dict) or not fields:
        return {prefix} if prefix else set()
    out: set[Path] = set()
    for key, value in fields.items():
        if key.startswith("f:"):
            out |= _from_fields(value, (*prefix, key[2:]))
    return out


def _entries(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    if obj is None:
        return []
    return copy.deepcopy((obj.get("metadata") or {}).get("managedFields") or [])


def _entry(manager: str, operation: str, api_version: str, paths: set[Path]) -> dict:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": _to_fields(paths),
    }


def _dotted(path: Path) -> str:
    return "".join(f".{key}" for key in path)


def _conflict(conflicts: list[tuple[Path, str, str]], kind: str, name: str) -> ApiError:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "{manager}" using {version}',
            "field": _dotted(path),
        }
        for path, manager, version in conflicts
    ]
    listed = "\n".join(f"- {c['message']}: {c['field']}" for c in causes)
    if len(causes) == 1:
        message = f"Apply failed with 1 conflict: {causes[0]['message']}: "
        message += causes[0]["field"]
    else:
        message = f"Apply failed with {len(causes)} conflicts: {listed}"
    return ApiError(
        409, "Conflict", message, causes, details={"name": name, "kind": kind}
    )


def apply_config(
    current: dict[str, Any] | None,
    config: Any,
    manager: str,
    force: bool,
    api_version: str,
) -> dict[str, Any]:
    """The object after `manager` applies `config` (raises 409 on conflicts)."""
    if not isinstance(config, dict):
        raise bad_request("an apply configuration must be an object")
    if not manager:
        raise bad_request(
            "PATCH requests with apply-patch+yaml must specify fieldManager"
        )
    wanted = leaf_paths(config)
    entries = _entries(current)
    mine = {(manager, "Apply")}
    if current is None:
        new = copy.deepcopy(config)
    else:
        conflicts = []
        for entry in entries:
            if (entry.get("manager"), entry.get("operation")) in mine:
                continue
            owned = _from_fields(entry.get("fieldsV1"))
            for path in sorted(owned & set(wanted)):
                present, value = _get(current, path)
                if present and value != wanted[path]:
                    conflicts.append(
                        (path, entry["manager"], entry.get("apiVersion", ""))
                    )
        if conflicts and not force:
            raise _conflict(
                conflicts, current.get("kind", ""), current["metadata"]["name"]
            )
        new = copy.deepcopy(current)
        before = next(
            (
                _from_fields(e.get("fieldsV1"))
                for e in entries
                if (e.get("manager"), e.get("operation")) in mine
            ),
            set(),
        )
        others = set().union(
            *(
                _from_fields(e.get("fieldsV1"))
                for e in entries
                if (e.get("manager"), e.get("operation")) not in mine
            )
        )
        for path in before - set(wanted) - others:
            _remove(new, path)
        for path, value in wanted.items():
            _set(new, path, value)
    kept = []
    for entry in entries:
        if (entry.get("manager"), entry.get("operation")) in mine:
            continue
        owned = _from_fields(entry.get("fieldsV1")) - set(wanted)
        if owned:
            entry["fieldsV1"] = _to_fields(owned)
            kept.append(entry)
    previous = next(
        (e for e in entries if (e.get("manager"), e.get("operation")) in mine), None
    )
    entry = _entry(manager, "Apply", api_version, set(wanted))
    if (
        current is not None
        and previous is not None
        and previous.get("fieldsV1") == entry["fieldsV1"]
        and _without_managed(new) == _without_managed(current)
    ):
        return copy.deepcopy(current)  # a no-op apply changes nothing
    kept.append(entry)
    new.setdefault("metadata", {})["managedFields"] = kept
    return new


def _without_managed(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {
        k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"
    }
    return {**obj, "metadata": meta}
