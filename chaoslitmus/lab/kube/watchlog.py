"""The store's watch log: per-kind bounded event logs and the watchers they feed.

A watch resumes from a resourceVersion by replaying the log after it, or
gets 410 Expired when the version is older than what the log still holds,
as a real apiserver's watch cache answers. Callers hold the store's lock.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, bad_request
from .objects import present
from .resources import ResourceType
from .selectors import FieldSelector, LabelSelector

__all__ = [
    "CLOSE",
    "EVENT_LOG_SIZE",
    "WATCH_QUEUE_LIMIT",
    "WatchEvent",
    "WatchLog",
    "Watcher",
]

EVENT_LOG_SIZE = 10_000
WATCH_QUEUE_LIMIT = 100_000

WatchEvent = tuple[str, dict[str, Any]]

# The sentinel that ends a watcher's queue.
CLOSE = object()


@dataclass(eq=False)
class Watcher:
    """One open watch: its filters and the queue the store feeds."""

    bucket: str
    rtype: ResourceType
    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector
    loop: asyncio.AbstractEventLoop
    thread_id: int
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    closed: bool = False

    def visible(self, event_type: str, obj: dict, old: dict | None) -> str | None:
        """The event type this watcher sees, or None (selectors as in k8s)."""
        now = self._matches(obj)
        if event_type != "MODIFIED":
            return event_type if now else None
        before = old is not None and self._matches(old)
        if now and before:
            return "MODIFIED"
        if now:
            return "ADDED"
        return "DELETED" if before else None

    def _matches(self, obj: dict) -> bool:
        meta = obj.get("metadata") or {}
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        return self.labels.matches(meta.get("labels")) and self.fields.matches(obj)

    def push(self, item: Any) -> None:
        if self.closed:
            return
        if item is CLOSE:
            self.closed = True
        elif self.queue.qsize() >= WATCH_QUEUE_LIMIT:
            self.closed, item = True, CLOSE  # too slow: end it, the client re-watches
        if threading.get_ident() == self.thread_id:
            self.queue.put_nowait(item)
        else:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)


@dataclass(frozen=True)
class _Event:
    rv: int
    type: str
    obj: dict[str, Any]
    old: dict[str, Any] | None


class WatchLog:
    """Events per kind (bucket), at most `size` each, and who watches them."""

    def __init__(self, size: int = EVENT_LOG_SIZE) -> None:
        self._size = size
        self._logs: dict[str, deque[_Event]] = {}
        self._floor: dict[str, int] = {}
        self._watchers: dict[str, set[Watcher]] = {}

    def record(self, bucket: str, event_type: str, obj: dict, old: dict | None) -> None:
        """Log an event and hand it to every watcher that sees it."""
        log = self._logs.get(bucket)
        if log is None:
            log = self._logs[bucket] = deque()
            self._floor.setdefault(bucket, 0)
        event = _Event(int(obj["metadata"]["resourceVersion"]), event_type, obj, old)
        log.append(event)
        if len(log) > self._size:
            self._floor[bucket] = log.popleft().rv
        for watcher in list(self._watchers.get(bucket, ())):
            seen = watcher.visible(event_type, obj, old)
            if seen is not None:
                watcher.push((seen, present(obj, watcher.rtype)))

    def replay(self, watcher: Watcher, resource_version: str) -> list[WatchEvent]:
        """The logged events after `resource_version` this watcher sees."""
        try:
            since = int(resource_version)
        except ValueError:
            raise bad_request(
                f'invalid resource version "{resource_version}"'
            ) from None
        floor = self._floor.get(watcher.bucket, 0)
        if since < floor:
            raise ApiError(
                410, "Expired", f"too old resource version: {since} ({floor})"
            )
        events: list[WatchEvent] = []
        for event in self._logs.get(watcher.bucket, ()):
            if event.rv <= since:
                continue
            seen = watcher.visible(event.type, event.obj, event.old)
            if seen is not None:
                events.append((seen, present(event.obj, watcher.rtype)))
        return events

    def add(self, watcher: Watcher) -> None:
        self._watchers.setdefault(watcher.bucket, set()).add(watcher)

    def remove(self, watcher: Watcher) -> None:
        watcher.closed = True
        self._watchers.get(watcher.bucket, set()).discard(watcher)

    def count(self) -> int:
        return sum(len(watchers) for watchers in self._watchers.values())

    def close(self, bucket: str | None = None) -> None:
        """End the watches of one bucket (its CRD went away), or all of them."""
        groups = (
            list(self._watchers.values())
            if bucket is None
            else [self._watchers.get(bucket, set())]
        )
        for watchers in groups:
            for watcher in list(watchers):
                watcher.push(CLOSE)
