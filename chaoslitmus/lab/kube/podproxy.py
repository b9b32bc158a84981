"""The pods/proxy subresource: who answers for a pod's port.

`GET /api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy/{path}` reaches a
container port through the API server (`kubectl get --raw`). In the lab
the data plane registers a handler for its Store; the API server asks it.
A handler returns (status, content type, body), or None when nothing
listens on that pod's port (the API server then answers 503, as
kube-apiserver does when the dial fails).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from chaoslitmus.lab.kube.store import Store

__all__ = ["PodProxyHandler", "handler_for", "register"]

PodProxyHandler = Callable[[str, str, int, str], "tuple[int, str, str] | None"]

_handlers: weakref.WeakKeyDictionary[Store, PodProxyHandler] = (
    weakref.WeakKeyDictionary()
)


def register(store: Store, handler: PodProxyHandler) -> None:
    _handlers[store] = handler


def handler_for(store: Store) -> PodProxyHandler | None:
    return _handlers.get(store)
