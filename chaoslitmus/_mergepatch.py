"""RFC 7386 JSON merge patch, to tell whether a lost write landed.

When a PATCH gets no answer, the object read afterwards either shows the
patch applied to the version we read, or it does not; pure functions, so the
mesh's read-modify-write loop can decide without another write.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["apply_merge_patch", "patch_landed"]


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with ``patch`` applied (RFC 7386: ``null`` deletes, lists replace)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def _content(obj: dict) -> tuple[Any, Any, Any]:
    """What a patch of ours can change: spec, annotations and labels."""
    meta = obj.get("metadata") or {}
    return (
        obj.get("spec"),
        meta.get("annotations") or None,
        meta.get("labels") or None,
    )


def patch_landed(before: dict, patch: dict, current: dict) -> bool:
    """Whether ``current`` is ``before`` with ``patch`` applied.

    The precondition (``metadata.resourceVersion``) is not content: the
    server replaces it on every write.
    """
    body = copy.deepcopy(patch)
    (body.get("metadata") or {}).pop("resourceVersion", None)
    return _content(apply_merge_patch(before, body)) == _content(current)
