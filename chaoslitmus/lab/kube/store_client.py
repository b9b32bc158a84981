"""What a Go controller's client gives it, over the lab Store.

Reads that answer None for a missing object, deletes that tolerate one,
read-modify-write updates, status writes through `/status` where the type has
that subresource, and best-effort events. The lab's Litmus operator uses it so
its own modules hold only Litmus's logic.

Store calls are synchronous on the API server's event loop, so nothing
interleaves between a read and the write that follows it.
"""

from __future__ import annotations

import copy
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chaoslitmus.lab.kube.store import Store

__all__ = ["StoreClient", "event_manifest", "status_code"]

log = logging.getLogger("chaoslitmus.lab")

EVENTS = "v1/events"


def event_manifest(
    obj: Mapping[str, Any],
    reason: str,
    message: str,
    event_type: str,
    component: str,
    now: str,
    suffix: str,
) -> dict[str, Any]:
    """A core/v1 Event about `obj`, as client-go's recorder writes one."""
    meta = obj["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta['name']}.{suffix}",
            "namespace": meta["namespace"],
        },
        "involvedObject": {
            "apiVersion": obj.get("apiVersion", ""),
            "kind": obj.get("kind", ""),
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid", ""),
        },
        "reason": reason,
        "message": message,
        "type": event_type,
        "source": {"component": component},
        "reportingComponent": component,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


def status_code(exc: BaseException) -> int | None:
    """The HTTP status a Store error stands for (None: not an API error)."""
    return getattr(exc, "status", None)


class StoreClient:
    """Controller-style calls on `store`; `now` stamps events (RFC 3339 UTC)."""

    def __init__(self, store: Store, now: Callable[[], str]) -> None:
        self.store = store
        self.now = now

    def get(
        self, resource: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        if not name:
            return None
        try:
            return self.store.get(resource, namespace, name)
        except Exception as exc:
            if status_code(exc) == 404:
                return None
            raise

    def exists(self, resource: str, namespace: str, name: str) -> bool:
        return self.get(resource, namespace, name) is not None

    def list(
        self, resource: str, namespace: str | None = None, label_selector: str = ""
    ) -> list[dict[str, Any]]:
        items, _ = self.store.list(
            resource, namespace, label_selector=label_selector or None
        )
        return items

    def delete(
        self,
        resource: str,
        namespace: str,
        name: str,
        grace_period_s: int | None = None,
    ) -> bool:
        """Delete; False when the object was already gone."""
        try:
            self.store.delete(resource, namespace, name, grace_period_s=grace_period_s)
            return True
        except Exception as exc:
            if status_code(exc) == 404:
                return False
            raise

    def update(
        self,
        resource: str,
        namespace: str,
        name: str,
        mutate: Callable[[dict[str, Any]], None],
        uid: str | None = None,
    ) -> dict[str, Any] | None:
        """Read-modify-write (a full Update, like the Go controllers).

        None when the object is gone or, with `uid`, was replaced by another
        object of the same name. A mutation that changes nothing writes nothing.
        """
        current = self.get(resource, namespace, name)
        if current is None or (uid is not None and current["metadata"]["uid"] != uid):
            return None
        body = copy.deepcopy(current)
        mutate(body)
        if body == current:
            return current
        try:
            return self.store.replace(resource, namespace, name, body)
        except Exception as exc:
            if status_code(exc) == 404:
                return None
            raise

    def create_with_status(
        self, resource: str, namespace: str, obj: dict[str, Any], status: dict[str, Any]
    ) -> dict[str, Any]:
        """Create, then write status (dropped on create for status subresources)."""
        created = self.store.create(resource, namespace, {**obj, "status": status})
        if created.get("status") == status:
            return created
        return (
            self.set_status(
                resource,
                namespace,
                created["metadata"]["name"],
                lambda s: s.update(status),
            )
            or created
        )

    def set_status(
        self,
        resource: str,
        namespace: str,
        name: str,
        change: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any] | None:
        """Change an object's status through /status, or inline without one."""
        current = self.get(resource, namespace, name)
        if current is None:
            return None
        body = copy.deepcopy(current)
        body.setdefault("status", {})
        change(body["status"])
        try:
            return self.store.replace(
                resource, namespace, name, body, subresource="status"
            )
        except Exception as exc:
            if status_code(exc) != 404:
                raise
        # 404: the object went away, or its type has no status subresource
        # (then status is part of the object, as for Litmus 3.x CRDs).
        if self.get(resource, namespace, name) is None:
            return None
        return self.store.replace(resource, namespace, name, body)

    def event(
        self,
        obj: Mapping[str, Any],
        reason: str,
        message: str,
        event_type: str = "Normal",
        component: str = "chaos-operator",
    ) -> None:
        """A core/v1 Event on `obj`; failures only log (events are best effort)."""
        meta = obj["metadata"]
        event = event_manifest(
            obj,
            reason,
            message,
            event_type,
            component,
            self.now(),
            secrets.token_hex(8),
        )
        try:
            self.store.create(EVENTS, meta["namespace"], event)
        except Exception as exc:
            log.debug("event %s on %s not recorded: %s", reason, meta["name"], exc)
