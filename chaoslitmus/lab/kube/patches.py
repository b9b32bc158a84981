"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and the
subset of Kubernetes strategic merge patch that built-in kinds need.

Pure functions on JSON-like values; the store turns PatchError into Status.
"""

from __future__ import annotations

import copy
from typing import Any

from chaoslitmus._mergepatch import apply_merge_patch  # RFC 7386, shared

__all__ = [
    "PatchError",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
]


class PatchError(ValueError):
    """A patch that cannot apply; `bad_request` if it is malformed, else 422."""

    def __init__(self, message: str, bad_request: bool = False) -> None:
        super().__init__(message)
        self.bad_request = bad_request


# -- RFC 6902 ---------------------------------------------------------------------
def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer: {path!r}", bad_request=True)
    if path == "":
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: list[Any], token: str, path: str, allow_end: bool) -> int:
    if allow_end and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r} in {path}")
    index = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if index > limit:
        raise PatchError(f"array index {index} out of bounds in {path}")
    return index


def _parent(doc: Any, tokens: list[str], path: str, op: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, path, allow_end=False)]
        else:
            raise PatchError(
                f'{op} operation does not apply: doc is missing path: "{path}": '
                "missing value"
            )
    return node


def _get(doc: Any, path: str, op: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, path, op)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, path, allow_end=False)]
    raise PatchError(
        f'{op} operation does not apply: doc is missing path: "{path}": missing value'
    )


def _remove(doc: Any, path: str, op: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError(f"{op} operation cannot remove the whole document")
    parent = _parent(doc, tokens, path, op)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, path, allow_end=False))
    raise PatchError(
        f'{op} operation does not apply: doc is missing path: "{path}": missing value'
    )


def _add(doc: Any, path: str, value: Any, op: str, replace: bool = False) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path, op)
    last = tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError(
                f"replace operation does not apply: doc is missing key: {path}: "
                "missing value"
            )
        parent[last] = value
    elif isinstance(parent, list):
        if replace:
            parent[_index(parent, last, path, allow_end=False)] = value
        else:
            parent.insert(_index(parent, last, path, allow_end=True), value)
    else:
        raise PatchError(
            f'{op} operation does not apply: doc is missing path: "{path}": '
            "missing value"
        )
    return doc


def apply_json_patch(target: Any, operations: Any) -> Any:
    """Apply RFC 6902 operations to a copy of `target`."""
    if not isinstance(operations, list):
        raise PatchError(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
            bad_request=True,
        )
    doc = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation:
            raise PatchError("json patch operation is missing 'op'", bad_request=True)
        op, path = operation["op"], operation.get("path")
        if op not in ("add", "remove", "replace", "move", "copy", "test"):
            raise PatchError(f"Unexpected kind: {op}", bad_request=True)
        if path is None:
            raise PatchError(f"{op} operation is missing 'path'", bad_request=True)
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchError(f"{op} operation is missing 'value'", bad_request=True)
        value = copy.deepcopy(operation.get("value"))
        if op == "add":
            doc = _add(doc, path, value, op)
        elif op == "replace":
            doc = _add(doc, path, value, op, replace=True)
        elif op == "remove":
            _remove(doc, path, op)
        elif op == "test":
            try:
                current = _get(doc, path, op)
            except PatchError:
                current = _MISSING
            if current != value or type(current) is not type(value):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            source = operation.get("from")
            if source is None:
                raise PatchError(f"{op} operation is missing 'from'", bad_request=True)
            if op == "move":
                if path.startswith(f"{source}/"):
                    raise PatchError(
                        f"move operation cannot move {source} into a child"
                    )
                moved = _remove(doc, source, op)
            else:
                moved = copy.deepcopy(_get(doc, source, op))
            doc = _add(doc, path, moved, op)
    return doc


_MISSING = object()


# -- strategic merge patch (subset) ----------------------------------------------------
# Merge keys of the list fields a built-in kind declares with patchStrategy=merge.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "name",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
}
_PRIMITIVE_MERGE_LISTS = frozenset({"finalizers"})


def _port_key(items: list[Any]) -> str:
    return "containerPort" if any("containerPort" in i for i in items) else "port"


def apply_strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge for built-in kinds: keyed list merges and $patch directives."""
    if not isinstance(patch, dict):
        raise PatchError(
            "strategic merge patch must be a JSON object", bad_request=True
        )
    return _smp(target if isinstance(target, dict) else {}, patch)


def _smp(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return {}
    result = dict(target)
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            drop = value if isinstance(value, list) else []
            result[name] = [v for v in result.get(name) or [] if v not in drop]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            result[key] = _smp(current if isinstance(current, dict) else {}, value)
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            result[key] = value
    return result


def _merge_list(name: str, current: Any, patch: list[Any]) -> list[Any]:
    current = current if isinstance(current, list) else []
    if name in _PRIMITIVE_MERGE_LISTS:
        return current + [v for v in patch if v not in current]
    merge_key = _MERGE_KEYS.get(name) or (
        _port_key(current + patch) if name == "ports" else None
    )
    dicts = all(isinstance(item, dict) for item in patch)
    if merge_key is None or not dicts:
        return copy.deepcopy([i for i in patch if not _is_directive(i)])
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if not _is_directive(i)]
    result = list(current)
    for item in patch:
        key = item.get(merge_key)
        position = next(
            (
                n
                for n, old in enumerate(result)
                if isinstance(old, dict) and old.get(merge_key) == key
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if position is not None:
                result.pop(position)
        elif position is None:
            result.append(copy.deepcopy(item))
        else:
            result[position] = _smp(result[position], item)
    return result


def _is_directive(item: Any) -> bool:
    return isinstance(item, dict) and "$patch" in item
