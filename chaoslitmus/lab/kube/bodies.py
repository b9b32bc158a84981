"""Request bodies as the lab API server reads them: size-capped, and YAML
whose aliases cannot blow a small body up into a huge object.

kube-apiserver refuses a body over its limit (3 MiB by default) with 413
RequestEntityTooLarge, and its YAML decoder refuses excessive aliasing; the
lab does the same (docs/lab-api-behaviour.md). Aliases are counted on the
parser's event stream, before any object is built: each alias adds the size
its anchor stands for, so a 1 KB "billion laughs" is refused after a few
hundred events instead of being expanded to 10^9 strings.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from .errors import ApiError, bad_request

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_BODY_BYTES",
    "decode_body",
    "too_large",
]

# kube-apiserver's default request body limit (genericapiserver config).
MAX_BODY_BYTES = 3 * 1024 * 1024
# Nodes that aliases may add to a body: plenty for a manifest that shares a
# label block or an env list, nothing like a bomb's 10^9.
MAX_ALIAS_NODES = 100_000

# libyaml's parser when present: the scan sees every event of the body.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def too_large(limit: int = MAX_BODY_BYTES) -> ApiError:
    """The Status a real apiserver answers for a body over its limit."""
    return ApiError(
        413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}"
    )


def decode_body(raw: bytes, content_type: str) -> Any:
    """JSON, or YAML when the content type says so; ApiError 400 otherwise."""
    if not raw:
        raise bad_request("the request body is empty")
    try:
        if "yaml" in content_type:
            check_aliases(raw)
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise bad_request(f"the request body is not valid: {exc}") from None


def check_aliases(raw: bytes, limit: int = MAX_ALIAS_NODES) -> None:
    """Refuse YAML whose aliases add more than `limit` nodes, or point into
    the node that defines them (an object that contains itself)."""
    sizes: dict[str, int] = {}  # anchor -> nodes it stands for, aliases expanded
    open_anchors: set[str] = set()
    stack: list[list[Any]] = []  # open collections: [anchor, nodes so far]
    added = 0
    for event in yaml.parse(raw, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in open_anchors:
                raise bad_request(
                    f"the request body is not valid: the YAML alias *{event.anchor} "
                    "refers to the node that contains it"
                )
            nodes = sizes.get(event.anchor, 1)
            added += nodes
            if added > limit:
                raise bad_request(
                    "the request body is not valid: its YAML aliases expand it by "
                    f"more than {limit:,} nodes (an alias bomb?)"
                )
        elif isinstance(event, yaml.CollectionStartEvent):
            stack.append([event.anchor, 1])
            if event.anchor:
                open_anchors.add(event.anchor)
            continue
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, nodes = stack.pop()
            if anchor:
                sizes[anchor] = nodes
                open_anchors.discard(anchor)
        elif isinstance(event, yaml.ScalarEvent):
            nodes = 1
            if event.anchor:
                sizes[event.anchor] = 1
        else:
            continue
        if stack:
            stack[-1][1] += nodes
