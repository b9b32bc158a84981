"""Who last wrote a field, as ``metadata.managedFields`` tells it.

The apiserver keeps, per field manager and operation, the set of fields that
manager set last (``fieldsV1``, keys like ``f:spec`` / ``f:routes``). A route
list without ``x-kubernetes-list-type`` is atomic, so exactly the manager that
wrote the list last owns ``f:spec.f:<routes>``. Only a hint for messages:
managedFields may be absent or reset, so ``None`` means "cannot tell".
Sources: docs/mesh-behaviour.md, "Restoring retry settings".
"""

from __future__ import annotations

from typing import Any

__all__ = ["FIELD_MANAGER", "last_writer"]

# The name our writes carry (the apiserver records it in managedFields).
FIELD_MANAGER = "chaostoolkit-litmus"


def _touches(fields: Any, path: tuple[str, ...]) -> bool:
    for part in path:
        if not isinstance(fields, dict) or f"f:{part}" not in fields:
            return False
        fields = fields[f"f:{part}"]
    return True


def last_writer(
    obj: dict, path: tuple[str, ...], ignore: str | None = FIELD_MANAGER
) -> dict[str, str] | None:
    """``{"manager", "operation", "time"}`` of the latest entry owning ``path``.

    ``path`` is like ``("spec", "routes")``. Entries of ``ignore`` (ourselves)
    are skipped; ties on ``time`` (whole seconds) name every tied manager.
    """
    entries = (obj.get("metadata") or {}).get("managedFields")
    if not isinstance(entries, list):
        return None
    owners = [
        entry
        for entry in entries
        if isinstance(entry, dict)
        and isinstance(entry.get("manager"), str)
        and entry["manager"] != ignore
        and entry.get("operation") in ("Update", "Apply")
        and _touches(entry.get("fieldsV1"), path)
    ]
    if not owners:
        return None
    latest = max(str(entry.get("time") or "") for entry in owners)
    tied = [e for e in owners if str(e.get("time") or "") == latest]
    return {
        "manager": " or ".join(sorted({e["manager"] for e in tied})),
        "operation": "/".join(sorted({e["operation"] for e in tied})),
        "time": latest,
    }
