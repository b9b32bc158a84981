"""``metadata.managedFields`` as an apiserver keeps it for non-apply writes.

Modelled on Kubernetes' field manager (k8s.io/apiserver
``pkg/endpoints/handlers/fieldmanager``, server-side apply docs "Field
management", Kubernetes 1.18+): every create, update and patch names a
manager (the ``fieldManager`` query parameter, else the User-Agent up to its
first ``/``); the fields the request changed move to that manager's
``Update`` entry (one per manager, API version and subresource) and leave
every other entry; empty entries are dropped; an entry's ``time`` is the
last time its set changed (RFC 3339, whole seconds).

Simplifications, said here so nobody relies on them: every list is atomic
(true for the mesh CRDs, whose lists carry no ``x-kubernetes-list-type``;
built-in lists with merge keys are per item on a real server), server-side
apply is not modelled, and managedFields sent by a client are ignored
rather than used to reset ownership.
"""

from __future__ import annotations

from typing import Any

__all__ = ["manager_from", "record"]

# Server-set metadata that never belongs to a manager (real servers strip these).
_IGNORED_META = frozenset(
    {
        "managedFields",
        "resourceVersion",
        "generation",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "name",
        "namespace",
    }
)

Path = tuple[str, ...]


def manager_from(field_manager: str | None, user_agent: str | None) -> str | None:
    """The manager name a request writes as (``None``: nothing to record)."""
    if field_manager:
        return field_manager
    if user_agent:
        return user_agent.split("/", 1)[0] or None
    return None


def _leaves(value: Any, prefix: Path = ()) -> dict[Path, Any]:
    """Leaf paths of a JSON object: scalars, lists (atomic) and empty maps."""
    if isinstance(value, dict) and value:
        found: dict[Path, Any] = {}
        for key, item in value.items():
            found.update(_leaves(item, (*prefix, str(key))))
        return found
    return {prefix: value}


def _fields(obj: dict | None, subresource: str | None) -> dict[Path, Any]:
    if not obj:
        return {}
    if subresource == "status":
        part = {"status": obj.get("status")} if "status" in obj else {}
    else:
        part = {
            k: v for k, v in obj.items() if k not in ("status", "apiVersion", "kind")
        }
        meta = part.pop("metadata", None)
        if isinstance(meta, dict):
            owned = {k: v for k, v in meta.items() if k not in _IGNORED_META}
            if owned:
                part["metadata"] = owned
    return _leaves(part)


def _to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return tree


def _from_fields_v1(tree: Any, prefix: Path = ()) -> set[Path]:
    if not isinstance(tree, dict) or not tree:
        return {prefix} if prefix else set()
    paths: set[Path] = set()
    for key, child in tree.items():
        if key.startswith("f:"):
            paths |= _from_fields_v1(child, (*prefix, key[2:]))
    return paths


def _under(path: Path, owned: Path) -> bool:
    """``path`` is ``owned`` or inside it, or ``owned`` is inside ``path``."""
    shorter = min(len(path), len(owned))
    return path[:shorter] == owned[:shorter]


def record(
    entries: list[dict[str, Any]] | None,
    old: dict | None,
    new: dict,
    manager: str,
    api_version: str,
    now: str,
    subresource: str | None = None,
) -> list[dict[str, Any]]:
    """The managedFields after ``manager`` turned ``old`` into ``new``."""
    before, after = _fields(old, subresource), _fields(new, subresource)
    changed = {p for p in after if before.get(p, object()) != after[p]}
    removed = {p for p in before if p not in after}
    touched = changed | removed
    result: list[dict[str, Any]] = []
    mine: dict[str, Any] | None = None
    for entry in entries or []:
        if not isinstance(entry, dict):
            continue
        owned = _from_fields_v1(entry.get("fieldsV1"))
        is_mine = (
            entry.get("manager") == manager
            and entry.get("operation") == "Update"
            and entry.get("apiVersion") == api_version
            and entry.get("subresource") == subresource
        )
        if is_mine:
            mine = entry
            continue
        kept = {p for p in owned if not any(_under(p, t) for t in touched)}
        if kept != owned:
            entry = {**entry, "fieldsV1": _to_fields_v1(kept)}
        if kept:
            result.append(entry)
    owned = _from_fields_v1(mine.get("fieldsV1")) if mine else set()
    owned = {p for p in owned if not any(_under(p, t) for t in removed)} | changed
    if owned:
        entry = {
            "manager": manager,
            "operation": "Update",
            "apiVersion": api_version,
            "time": now if touched or not mine else mine.get("time", now),
            "fieldsType": "FieldsV1",
            "fieldsV1": _to_fields_v1(owned),
        }
        if subresource:
            entry["subresource"] = subresource
        result.append(entry)
    return result
