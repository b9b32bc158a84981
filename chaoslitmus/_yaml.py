"""YAML loading that a small hostile document cannot turn into a huge one.

``yaml.safe_load`` refuses Python tags but not aliases: a 1 KB "billion
laughs" document (nine anchors, each listing the previous one nine times)
stands for 10^9 strings. PyYAML builds it cheaply, as shared references, but
everything downstream (JSON encoding, schema checks, a deep copy) walks it
in full and runs for hours. A byte limit cannot see it: the bytes are few.

Aliases are allowed, because a hand-written manifest may share an env list
or a label block, but bounded: every document is composed to its node graph
first, and the nodes it would have once every alias is written out are
counted (each shared node counted once per place it appears, in time linear
in the graph). A document whose aliases add more than ``MAX_ALIAS_NODES``
nodes, or whose alias points into itself, is refused before any object is
built. One module, so the extension and the lab's API server refuse the
same documents with the same words.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["MAX_ALIAS_NODES", "MAX_DEPTH", "UnsafeYaml", "safe_load", "safe_load_all"]

# Far more than any manifest shares by alias (an env list of 50 variables
# used in 20 places is 2,000 nodes), far less than a bomb (10^9).
MAX_ALIAS_NODES = 100_000
# Kubernetes objects nest a few dozen levels at most; PyYAML recurses per level.
MAX_DEPTH = 200


class UnsafeYaml(ValueError):
    """A YAML text refused before it was built; the message is one line."""


def safe_load_all(text: str) -> list[Any]:
    """Every document of ``text``, safely loaded (``None`` for empty ones).

    Raises ``yaml.YAMLError`` for malformed YAML (with its ``problem_mark``)
    and :class:`UnsafeYaml` for documents too expanded or too deep.
    """
    loader = yaml.SafeLoader(text)
    documents = []
    try:
        index = 0
        while True:
            try:
                if not loader.check_node():
                    break
                node = loader.get_node()
            except RecursionError:
                raise UnsafeYaml(
                    f"document {index + 1} nests more than {MAX_DEPTH} levels "
                    "deep: not a manifest"
                ) from None
            index += 1
            _check_expansion(node, index)
            documents.append(loader.construct_document(node))
    finally:
        loader.dispose()
    return documents


def safe_load(text: str) -> Any:
    """The one document of ``text`` (``None`` if empty), as :func:`safe_load_all`.

    More than one document is a ``yaml.YAMLError``, as with ``yaml.safe_load``.
    """
    documents = safe_load_all(text)
    if len(documents) > 1:
        raise yaml.YAMLError("expected a single document, found more than one")
    return documents[0] if documents else None


def _check_expansion(root: yaml.Node, index: int) -> None:
    """Refuse a document whose aliases expand too far, loop, or nest too deep."""
    written = _count_unique(root)
    expanded = _expanded_size(root, index)
    if expanded - written > MAX_ALIAS_NODES:
        raise UnsafeYaml(
            f"document {index} uses YAML aliases that expand it to more than "
            f"{written + MAX_ALIAS_NODES:,} nodes (an alias bomb?); write the "
            "repeated parts out, or use fewer aliases"
        )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _count_unique(root: yaml.Node) -> int:
    """Nodes in the graph, each shared node once (what the text spells out)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(_children(node))
    return len(seen)


def _expanded_size(root: yaml.Node, index: int) -> int:
    """Nodes once every alias is written out, in time linear in the graph.

    Iterative post-order walk with memoised sizes, so a shared node costs its
    size once; a node met again while still open is an alias into itself.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            open_nodes.discard(key)
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise UnsafeYaml(f"document {index} has a YAML alias that refers to itself")
        if depth > MAX_DEPTH:
            raise UnsafeYaml(
                f"document {index} nests more than {MAX_DEPTH} levels "
                "deep: not a manifest"
            )
        open_nodes.add(key)
        stack.append((node, depth, True))
        for child in _children(node):
            if id(child) in open_nodes:
                raise UnsafeYaml(
                    f"document {index} has a YAML alias that refers to itself"
                )
            if id(child) not in sizes:
                stack.append((child, depth + 1, False))
    return sizes[id(root)]
