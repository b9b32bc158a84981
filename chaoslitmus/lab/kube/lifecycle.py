"""Object lifecycle in the lab store: deletion, finalizers, namespace
termination and garbage collection.

Deleting an object with finalizers only marks it (deletionTimestamp) until
they are removed; a terminating namespace deletes what it holds and goes
once empty; removing an owner deletes its dependents in the background
unless the propagation policy is Orphan. `Store` mixes this in; the methods
run under the store's lock and share its indexes.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from .errors import conflict
from .objects import clone, now, present
from .resources import CRD_KEY, NAMESPACE_KEY, ResourceRegistry, ResourceType
from .watchlog import WatchLog

__all__ = ["Lifecycle"]


class Lifecycle:
    """Delete, finalize and collect; the state is the Store's own."""

    registry: ResourceRegistry
    _lock: threading.RLock
    _rng: random.Random
    _buckets: dict[str, dict[str, dict[str, dict[str, Any]]]]
    _uids: dict[str, tuple[str, str, str]]
    _dependents: dict[str, set[tuple[str, str, str]]]
    _emptying: set[str]
    _watch_log: WatchLog

    # Provided by Store.
    def _type(self, resource: ResourceType | str) -> ResourceType:
        raise NotImplementedError

    def _scope(self, rtype: ResourceType, namespace: str | None) -> str:
        raise NotImplementedError

    def _stored(self, rtype: ResourceType, ns: str, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def _bucket(self, rtype: ResourceType) -> dict[str, dict[str, dict[str, Any]]]:
        raise NotImplementedError

    def _next_rv(self) -> str:
        raise NotImplementedError

    def delete(
        self,
        resource: ResourceType | str,
        namespace: str | None,
        name: str,
        grace_period_s: int | None = None,
        *,
        propagation_policy: str | None = None,
        preconditions: dict[str, str] | None = None,
        dry_run: bool = False,
    ) -> dict:
        """Delete; with finalizers only mark it (deletionTimestamp) until they go."""
        obj, _pending = self.delete_ex(
            resource,
            namespace,
            name,
            grace_period_s,
            propagation_policy=propagation_policy,
            preconditions=preconditions,
            dry_run=dry_run,
        )
        return obj

    def delete_ex(
        self,
        resource: ResourceType | str,
        namespace: str | None,
        name: str,
        grace_period_s: int | None = None,
        *,
        propagation_policy: str | None = None,
        preconditions: dict[str, str] | None = None,
        dry_run: bool = False,
    ) -> tuple[dict, bool]:
        """Like delete, also saying whether the object is still there (pending)."""
        with self._lock:
            rtype = self._type(resource)
            ns = self._scope(rtype, namespace)
            current = self._stored(rtype, ns, name)
            meta = current["metadata"]
            wanted = preconditions or {}
            if wanted.get("uid") and wanted["uid"] != meta["uid"]:
                raise conflict(
                    rtype,
                    name,
                    f"Precondition failed: UID in precondition: {wanted['uid']}, "
                    f"UID in object meta: {meta['uid']}",
                )
            if wanted.get("resourceVersion") and (
                wanted["resourceVersion"] != meta["resourceVersion"]
            ):
                raise conflict(
                    rtype,
                    name,
                    "Precondition failed: ResourceVersion in precondition: "
                    f"{wanted['resourceVersion']}, ResourceVersion in object meta: "
                    f"{meta['resourceVersion']}",
                )
            is_namespace = rtype.key == NAMESPACE_KEY
            if not meta.get("finalizers") and not is_namespace:
                if dry_run:
                    return present(current, rtype), False
                gone = clone(current)
                gone["metadata"]["resourceVersion"] = self._next_rv()
                self._remove(
                    rtype, ns, name, gone, orphan=propagation_policy == "Orphan"
                )
                return present(gone, rtype), False
            if meta.get("deletionTimestamp") or dry_run:
                return present(current, rtype), True
            marked = clone(current)
            marked["metadata"]["deletionTimestamp"] = now()
            marked["metadata"]["deletionGracePeriodSeconds"] = grace_period_s or 0
            marked["metadata"]["generation"] = meta.get("generation", 1) + 1
            if is_namespace:
                marked["status"] = {"phase": "Terminating"}
            marked["metadata"]["resourceVersion"] = self._next_rv()
            self._put(rtype, ns, name, marked, current, "MODIFIED")
            if is_namespace:
                self._empty_namespace(name)
                final = self._maybe_drop_namespace(name)
                if final is not None:
                    return present(final, rtype), False
            return present(marked, rtype), True

    def _empty_namespace(self, ns: str) -> None:
        """Delete what a terminating namespace holds (finalizers still apply)."""
        self._emptying.add(ns)
        try:
            for rtype in list(self.registry):
                if not rtype.namespaced:
                    continue
                bucket = self._buckets.get(rtype.group_resource, {})
                for name in sorted(bucket.get(ns, {})):
                    obj = bucket.get(ns, {}).get(name)
                    if obj is not None and not obj["metadata"].get("deletionTimestamp"):
                        self.delete_ex(rtype, ns, name)
        finally:
            self._emptying.discard(ns)

    def _maybe_drop_namespace(self, ns: str) -> dict | None:
        """Remove a terminating namespace once it is empty; its final state."""
        namespaces = self._buckets.get("namespaces", {}).get("", {})
        namespace = namespaces.get(ns)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return None
        if ns in self._emptying or any(b.get(ns) for b in self._buckets.values()):
            return None
        gone = clone(namespace)
        gone["metadata"]["resourceVersion"] = self._next_rv()
        self._remove(self._type(NAMESPACE_KEY), "", ns, gone, orphan=True)
        return gone

    # -- commit, and the owner index garbage collection reads -------------------
    def _put(
        self,
        rtype: ResourceType,
        ns: str,
        name: str,
        obj: dict,
        old: dict | None,
        event_type: str,
    ) -> None:
        self._bucket(rtype).setdefault(ns, {})[name] = obj
        uid = obj["metadata"]["uid"]
        where = (rtype.group_resource, ns, name)
        self._uids[uid] = where
        old_owners = _owner_uids(old) if old else set()
        new_owners = _owner_uids(obj)
        for owner in old_owners - new_owners:
            self._dependents.get(owner, set()).discard(where)
        for owner in new_owners - old_owners:
            self._dependents.setdefault(owner, set()).add(where)
        self._watch_log.record(rtype.group_resource, event_type, obj, old)

    def _remove(
        self, rtype: ResourceType, ns: str, name: str, final: dict, orphan: bool
    ) -> None:
        """Drop an object for good: DELETED event, CRD cleanup, garbage collection."""
        bucket = self._bucket(rtype)
        old = bucket.get(ns, {}).pop(name, None)
        if ns in bucket and not bucket[ns]:
            del bucket[ns]
        uid = final["metadata"]["uid"]
        self._uids.pop(uid, None)
        for owner in _owner_uids(final):
            self._dependents.get(owner, set()).discard((rtype.group_resource, ns, name))
        self._watch_log.record(rtype.group_resource, "DELETED", final, old)
        if rtype.key == CRD_KEY:
            self._drop_crd(final)
        dependents = self._dependents.pop(uid, set())
        if not orphan:
            self._collect(dependents)
        if ns and rtype.key != NAMESPACE_KEY:
            self._maybe_drop_namespace(ns)

    def _collect(self, dependents: set[tuple[str, str, str]]) -> None:
        """Garbage-collect dependents whose owners are all gone (background policy)."""
        for group_resource, ns, name in sorted(dependents):
            obj = self._buckets.get(group_resource, {}).get(ns, {}).get(name)
            if obj is None or any(uid in self._uids for uid in _owner_uids(obj)):
                continue
            rtype = next(
                (t for t in self.registry if t.group_resource == group_resource), None
            )
            if rtype is not None:
                self.delete_ex(rtype, ns or None, name)

    def _drop_crd(self, crd: dict) -> None:
        removed = self.registry.remove_crd(crd["metadata"]["name"])
        if not removed:
            return
        rtype = removed[0]
        bucket = self._buckets.pop(rtype.group_resource, {})
        for _ns, objects in sorted(bucket.items()):
            for _name, obj in sorted(objects.items()):
                gone = clone(obj)
                gone["metadata"]["resourceVersion"] = self._next_rv()
                self._uids.pop(obj["metadata"]["uid"], None)
                self._watch_log.record(rtype.group_resource, "DELETED", gone, obj)
        self._watch_log.close(rtype.group_resource)


# -- pure helpers ------------------------------------------------------------------
def _owner_uids(obj: dict | None) -> set[str]:
    refs = (obj or {}).get("metadata", {}).get("ownerReferences") or []
    return {ref["uid"] for ref in refs if isinstance(ref, dict) and ref.get("uid")}
