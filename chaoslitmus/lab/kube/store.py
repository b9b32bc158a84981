"""The lab apiserver's in-memory object store, with Kubernetes semantics.

Pure Python, no HTTP: the aiohttp layer (`apiserver.py`) and in-process
controllers (the Litmus operator loop) both call it on the server's event
loop thread. It keeps the current objects per kind and namespace, one global
resourceVersion counter and a bounded event log per kind so that watches can
resume from a resourceVersion, or get 410 Expired like a real apiserver.
"""

from __future__ import annotations

import asyncio
import random
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from . import managed_fields, schemas
from .errors import (
    ApiError,
    bad_request,
    conflict,
    invalid,
    not_found,
    unknown_resource,
)
from .lifecycle import Lifecycle
from .objectmeta import metadata_causes
from .objects import clone, now, present
from .patches import (
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from .resources import CRD_KEY, NAMESPACE_KEY, ResourceRegistry, ResourceType
from .selectors import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from .watchlog import CLOSE, EVENT_LOG_SIZE, Watcher, WatchEvent, WatchLog

# ApiError and WatchEvent are re-exported: callers of the store catch and read them.
__all__ = ["ApiError", "Store", "WatchEvent"]

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

_OBJECT_META_KEYS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_SERVER_META_KEYS = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


class Store(Lifecycle):
    """Kubernetes objects in memory: CRUD, patches, finalizers, watches.

    Deletion and garbage collection live in `lifecycle.py`, the event log
    and watchers in `watchlog.py`.
    """

    def __init__(
        self,
        registry: ResourceRegistry | None = None,
        *,
        event_log_size: int = EVENT_LOG_SIZE,
        seed: int | None = None,
        namespaces: Iterable[str] = DEFAULT_NAMESPACES,
    ) -> None:
        if registry is None:
            crds = schemas.load_crd_files(schemas.default_crd_files())
            registry = ResourceRegistry.with_crds(crds)
        self.registry = registry
        self._rv = 0
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._buckets: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        self._watch_log = WatchLog(event_log_size)
        self._uids: dict[str, tuple[str, str, str]] = {}
        self._dependents: dict[str, set[tuple[str, str, str]]] = {}
        self._emptying: set[str] = set()
        crd_type = self._type(CRD_KEY)
        for crd in registry.crds():
            self._install_crd_object(crd_type, crd)
        for name in namespaces:
            self.create(NAMESPACE_KEY, None, {"metadata": {"name": name}})

    # -- small helpers -------------------------------------------------------------
    @property
    def resource_version(self) -> str:
        """The latest resourceVersion handed out (string of an int)."""
        return str(self._rv)

    def _type(self, resource: ResourceType | str) -> ResourceType:
        rtype = self.registry.resolve(resource)
        if rtype is None:
            raise unknown_resource()
        return rtype

    def _bucket(self, rtype: ResourceType) -> dict[str, dict[str, dict[str, Any]]]:
        return self._buckets.setdefault(rtype.group_resource, {})

    def _scope(self, rtype: ResourceType, namespace: str | None) -> str:
        if not rtype.namespaced:
            return ""
        if not namespace:
            raise bad_request("a namespace is required for namespaced resources")
        return namespace

    def _stored(self, rtype: ResourceType, ns: str, name: str) -> dict[str, Any]:
        obj = self._bucket(rtype).get(ns, {}).get(name)
        if obj is None:
            raise not_found(rtype, name)
        return obj

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    # -- reads ------------------------------------------------------------------
    def get(
        self, resource: ResourceType | str, namespace: str | None, name: str
    ) -> dict:
        """A deep copy of one object; ApiError 404 if it does not exist."""
        with self._lock:
            rtype = self._type(resource)
            return present(
                self._stored(rtype, self._scope(rtype, namespace), name), rtype
            )

    def list(
        self,
        resource: ResourceType | str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[dict], str]:
        """(items sorted by namespace/name, the list's resourceVersion)."""
        items, rv, _ = self.list_page(
            resource, namespace, label_selector, field_selector
        )
        return items, rv

    def list_page(
        self,
        resource: ResourceType | str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_after: str | None = None,
    ) -> tuple[list[dict], str, str | None]:
        """A list with paging: (items, resourceVersion, key to continue after)."""
        with self._lock:
            rtype = self._type(resource)
            labels, fields = self._selectors(rtype, label_selector, field_selector)
            bucket = self._bucket(rtype)
            if rtype.namespaced and namespace:
                scopes = [(namespace, bucket.get(namespace, {}))]
            else:
                scopes = sorted(bucket.items())
            items, last = [], None
            for ns, objects in scopes:
                names = sorted(set(fields.names)) if fields.names else sorted(objects)
                for name in names:
                    obj = objects.get(name)
                    if obj is None or (
                        continue_after is not None and f"{ns}/{name}" <= continue_after
                    ):
                        continue
                    meta = obj["metadata"]
                    if labels.matches(meta.get("labels")) and fields.matches(obj):
                        if limit is not None and len(items) >= limit:
                            return items, str(self._rv), last
                        items.append(present(obj, rtype))
                        last = f"{ns}/{name}"
            return items, str(self._rv), None

    def _selectors(
        self,
        rtype: ResourceType,
        label_selector: str | None,
        field_selector: str | None,
    ) -> tuple[LabelSelector, FieldSelector]:
        try:
            return (
                parse_label_selector(label_selector),
                parse_field_selector(field_selector, rtype.group, rtype.plural),
            )
        except SelectorError as exc:
            raise bad_request(str(exc)) from None

    # -- create ---------------------------------------------------------------------
    def create(
        self,
        resource: ResourceType | str,
        namespace: str | None,
        obj: dict,
        *,
        dry_run: bool = False,
        field_validation: str | None = None,
        field_manager: str | None = None,
    ) -> dict:
        """Create obj; 409 AlreadyExists, 422 Invalid, 404 if the namespace is missing.

        `field_validation="Strict"` refuses unknown fields (400) instead of
        silently pruning them, like `kubectl --validate=strict`.
        """
        with self._lock:
            rtype = self._type(resource)
            body, unknown = self._normalise_body(rtype, obj)
            meta = body["metadata"]
            ns = self._body_namespace(rtype, namespace, meta)
            if meta.get("resourceVersion"):
                raise ApiError(
                    500,
                    "",
                    "resourceVersion should not be set on objects to be created",
                )
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = self._generate_name(rtype, ns, meta["generateName"])
            name = meta.get("name") or ""
            if rtype.namespaced:
                self._check_namespace_open(rtype, ns, name)
            if rtype.has_status_subresource and not rtype.is_builtin:
                body.pop("status", None)  # create cannot set status (CRD strategy)
            for key in _SERVER_META_KEYS:
                meta.pop(key, None)
            self._admit(rtype, name, body, None, unknown, field_validation)
            if name in self._bucket(rtype).get(ns, {}):
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{rtype.group_resource} "{name}" already exists',
                    details={"name": name, "group": rtype.group, "kind": rtype.plural},
                )
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            meta["generation"] = 1
            self._defaults_on_create(rtype, body)
            meta.pop("managedFields", None)
            if field_manager:
                meta["managedFields"] = managed_fields.record(
                    None, None, body, field_manager, rtype.api_version, now()
                )
            if dry_run:
                return present(body, rtype)
            meta["resourceVersion"] = self._next_rv()
            self._put(rtype, ns, name, body, None, "ADDED")
            if rtype.key == CRD_KEY:
                self.registry.add_crd(clone(body))
            return present(body, rtype)

    def _generate_name(self, rtype: ResourceType, ns: str, prefix: str) -> str:
        existing = self._bucket(rtype).get(ns, {})
        while True:
            suffix = "".join(self._rng.choice(_NAME_CHARS) for _ in range(5))
            if prefix + suffix not in existing:
                return prefix + suffix

    def _defaults_on_create(self, rtype: ResourceType, body: dict) -> None:
        if rtype.key == NAMESPACE_KEY:
            body.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            body["status"] = {"phase": "Active"}
        elif rtype.key == CRD_KEY:
            body["spec"] = schemas.crd_to_v1(body)["spec"]
            body["status"] = schemas.crd_status(body)

    def _install_crd_object(self, crd_type: ResourceType, crd: dict) -> None:
        """Store a CRD the registry already serves (loaded from files)."""
        body = clone(crd)
        meta = body.setdefault("metadata", {})
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        body["apiVersion"], body["kind"] = crd_type.api_version, crd_type.kind
        body["status"] = schemas.crd_status(body)
        meta["resourceVersion"] = self._next_rv()
        self._put(crd_type, "", meta["name"], body, None, "ADDED")

    def _check_namespace_open(self, rtype: ResourceType, ns: str, name: str) -> None:
        namespace = self._buckets.get("namespaces", {}).get("", {}).get(ns)
        if namespace is None:
            raise ApiError(
                404,
                "NotFound",
                f'namespaces "{ns}" not found',
                details={"name": ns, "kind": "namespaces"},
            )
        if namespace["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f'{rtype.group_resource} "{name}" is forbidden: unable to create new '
                f"content in namespace {ns} because it is being terminated",
                [
                    {
                        "reason": "NamespaceTerminating",
                        "message": f"namespace {ns} is being terminated",
                        "field": "metadata.namespace",
                    }
                ],
                details={"name": name, "group": rtype.group, "kind": rtype.plural},
            )

    # -- bodies and admission ---------------------------------------------------------
    def _normalise_body(
        self, rtype: ResourceType, obj: Any
    ) -> tuple[dict[str, Any], list[str]]:
        if not isinstance(obj, dict):
            raise bad_request(
                f"the object provided is unrecognized (must be of type {rtype.kind})"
            )
        body = clone(obj)
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version != rtype.api_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the "
                f"expected API version ({rtype.api_version})"
            )
        if kind and kind != rtype.kind:
            raise bad_request(
                f"the kind in the data ({kind}) does not match the expected kind "
                f"({rtype.kind})"
            )
        body["apiVersion"], body["kind"] = rtype.api_version, rtype.kind
        meta = body.get("metadata")
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        body["metadata"] = {k: v for k, v in meta.items() if k in _OBJECT_META_KEYS}
        unknown = [f"metadata.{k}" for k in meta if k not in _OBJECT_META_KEYS]
        for key in ("labels", "annotations"):
            mapping = body["metadata"].get(key)
            if mapping is None:
                body["metadata"].pop(key, None)
                continue
            if not isinstance(mapping, dict) or not all(
                isinstance(v, str) for v in mapping.values()
            ):
                raise bad_request(
                    f"json: cannot unmarshal metadata.{key}: values must be strings"
                )
        finalizers = body["metadata"].get("finalizers")
        if finalizers is not None and (
            not isinstance(finalizers, list)
            or not all(isinstance(f, str) for f in finalizers)
        ):
            raise bad_request("json: metadata.finalizers must be a list of strings")
        return body, unknown

    def _body_namespace(
        self, rtype: ResourceType, namespace: str | None, meta: dict[str, Any]
    ) -> str:
        if not rtype.namespaced:
            meta.pop("namespace", None)
            return ""
        body_ns = meta.get("namespace")
        if namespace and body_ns and body_ns != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace "
                "sent on the request"
            )
        ns = namespace or body_ns
        if not ns:
            raise bad_request("a namespace is required for namespaced resources")
        meta["namespace"] = ns
        return ns

    def _admit(
        self,
        rtype: ResourceType,
        name: str,
        body: dict,
        old: dict | None,
        unknown: list[str],
        field_validation: str | None,
    ) -> None:
        """Validate (and prune) a candidate object; ApiError 422 if invalid."""
        causes = metadata_causes(rtype, body["metadata"])
        if rtype.key == CRD_KEY and not causes:
            causes = schemas.validate_crd(body)
        if not rtype.is_builtin:
            unknown = unknown + schemas.prune(rtype, body)
        if unknown and field_validation == "Strict":
            listed = ", ".join(f'unknown field "{path}"' for path in unknown)
            raise bad_request(
                f'{rtype.kind} in version "{rtype.version}" cannot be handled as a '
                f"{rtype.kind}: strict decoding error: {listed}"
            )
        if not rtype.is_builtin:
            causes += schemas.validate(rtype, body)
        if old is not None:
            added = set(body["metadata"].get("finalizers") or []) - set(
                old["metadata"].get("finalizers") or []
            )
            if old["metadata"].get("deletionTimestamp") and added:
                causes.append(
                    {
                        "reason": "FieldValueForbidden",
                        "message": "Forbidden: no new finalizers can be added if the "
                        "object is being deleted",
                        "field": "metadata.finalizers",
                    }
                )
        if causes:
            raise invalid(rtype, name, causes)

    # -- updates ----------------------------------------------------------------------
    def replace(
        self,
        resource: ResourceType | str,
        namespace: str | None,
        name: str,
        obj: dict,
        subresource: str | None = None,
        *,
        dry_run: bool = False,
        field_validation: str | None = None,
        field_manager: str | None = None,
    ) -> dict:
        """PUT: the body replaces the object; its resourceVersion is a precondition."""
        return self._update(
            resource,
            namespace,
            name,
            lambda _current: obj,
            subresource,
            dry_run,
            field_validation,
            field_manager,
        )

    def patch(
        self,
        resource: ResourceType | str,
        namespace: str | None,
        name: str,
        patch: Any,
        patch_type: str = "merge",
        subresource: str | None = None,
        *,
        dry_run: bool = False,
        field_validation: str | None = None,
        field_manager: str | None = None,
    ) -> dict:
        """PATCH with "merge" (RFC 7386), "json" (RFC 6902) or "strategic"."""
        rtype = self._type(resource)
        if patch_type == "strategic" and not rtype.is_builtin:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media "
                "types include: application/json-patch+json, "
                "application/merge-patch+json, application/apply-patch+yaml",
            )
        appliers: dict[str, Callable[[Any, Any], Any]] = {
            "merge": apply_merge_patch,
            "json": apply_json_patch,
            "strategic": apply_strategic_merge_patch,
        }
        applier = appliers.get(patch_type)
        if applier is None:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"patch type {patch_type!r} is not supported",
            )
        if patch_type == "merge" and not isinstance(patch, dict):
            raise bad_request("a merge patch must be a JSON object")

        def compute(current: dict) -> dict:
            try:
                return applier(current, patch)
            except PatchError as exc:
                if exc.bad_request:
                    raise bad_request(str(exc)) from None
                raise ApiError(422, "Invalid", str(exc)) from None

        return self._update(
            rtype,
            namespace,
            name,
            compute,
            subresource,
            dry_run,
            field_validation,
            field_manager,
        )

    def _update(
        self,
        resource: ResourceType | str,
        namespace: str | None,
        name: str,
        compute: Callable[[dict], Any],
        subresource: str | None,
        dry_run: bool,
        field_validation: str | None = None,
        field_manager: str | None = None,
    ) -> dict:
        with self._lock:
            rtype = self._type(resource)
            if subresource not in (None, "status") or (
                subresource == "status" and not rtype.has_status_subresource
            ):
                raise unknown_resource()
            ns = self._scope(rtype, namespace)
            current = self._stored(rtype, ns, name)
            body, unknown = self._normalise_body(
                rtype, compute(present(current, rtype))
            )
            meta = body["metadata"]
            if meta.get("name", name) != name:
                raise bad_request(
                    f"the name of the object ({meta['name']}) does not match the name "
                    f"on the URL ({name})"
                )
            if rtype.namespaced and meta.get("namespace", ns) != ns:
                raise bad_request(
                    "the namespace of the provided object does not match the "
                    "namespace sent on the request"
                )
            cur_meta = current["metadata"]
            wanted_rv = meta.get("resourceVersion")
            if wanted_rv and wanted_rv != cur_meta["resourceVersion"]:
                raise conflict(rtype, name)
            if meta.get("uid") and meta["uid"] != cur_meta["uid"]:
                raise conflict(
                    rtype,
                    name,
                    f"Precondition failed: UID in precondition: {meta['uid']}, "
                    f"UID in object meta: {cur_meta['uid']}",
                )
            new = self._merge_update(rtype, current, body, subresource)
            self._admit(rtype, name, new, current, unknown, field_validation)
            if _spec_changed(rtype, current, new):
                new["metadata"]["generation"] = cur_meta.get("generation", 1) + 1
            self._keep_managed_fields(current, new)
            same = _without_rv(new) == _without_rv(current)
            if field_manager and not same:
                new["metadata"]["managedFields"] = managed_fields.record(
                    cur_meta.get("managedFields"),
                    current,
                    new,
                    field_manager,
                    rtype.api_version,
                    now(),
                    subresource,
                )
                if not new["metadata"]["managedFields"]:
                    del new["metadata"]["managedFields"]
            if dry_run or same:
                return present(new if dry_run else current, rtype)
            new["metadata"]["resourceVersion"] = self._next_rv()
            if new["metadata"].get("deletionTimestamp") and not new["metadata"].get(
                "finalizers"
            ):
                self._remove(rtype, ns, name, new, orphan=False)
                return present(new, rtype)
            self._put(rtype, ns, name, new, current, "MODIFIED")
            if rtype.key == CRD_KEY:
                new["status"] = schemas.crd_status(new)
                self.registry.add_crd(clone(new))
            return present(new, rtype)

    @staticmethod
    def _keep_managed_fields(current: dict, new: dict) -> None:
        """Only the server writes managedFields (see :mod:`.managed_fields`)."""
        kept = current["metadata"].get("managedFields")
        if kept is None:
            new["metadata"].pop("managedFields", None)
        else:
            new["metadata"]["managedFields"] = clone(kept)

    @staticmethod
    def _merge_update(
        rtype: ResourceType, current: dict, body: dict, subresource: str | None
    ) -> dict:
        if subresource == "status":
            new = clone(current)
            if "status" in body:
                new["status"] = body["status"]
            else:
                new.pop("status", None)
            new["apiVersion"] = body["apiVersion"]
            return new
        new = body
        meta = new["metadata"]
        cur_meta = current["metadata"]
        meta["name"] = cur_meta["name"]
        if "namespace" in cur_meta:
            meta["namespace"] = cur_meta["namespace"]
        for key in _SERVER_META_KEYS:
            if key in cur_meta:
                meta[key] = cur_meta[key]
            else:
                meta.pop(key, None)
        meta["resourceVersion"] = cur_meta["resourceVersion"]
        if rtype.has_status_subresource:
            if "status" in current:
                new["status"] = clone(current["status"])
            else:
                new.pop("status", None)
        return new

    # -- watch -----------------------------------------------------------------------
    def subscribe(
        self,
        resource: ResourceType | str,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[Watcher, list[WatchEvent]]:
        """Register a watcher; returns it and the events to send first.

        No resourceVersion (or "0"): synthetic ADDED events for what exists.
        A resourceVersion: the logged events after it; 410 Expired when it is
        older than the log.
        """
        with self._lock:
            rtype = self._type(resource)
            labels, fields = self._selectors(rtype, label_selector, field_selector)
            loop = asyncio.get_running_loop()
            watcher = Watcher(
                bucket=rtype.group_resource,
                rtype=rtype,
                namespace=namespace if rtype.namespaced and namespace else None,
                labels=labels,
                fields=fields,
                loop=loop,
                thread_id=threading.get_ident(),
            )
            initial: list[WatchEvent] = []
            if resource_version in (None, "", "0"):
                items, _ = self.list(
                    rtype, watcher.namespace, label_selector, field_selector
                )
                initial = [("ADDED", item) for item in items]
            else:
                initial = self._watch_log.replay(watcher, resource_version)
            self._watch_log.add(watcher)
            return watcher, initial

    def unsubscribe(self, watcher: Watcher) -> None:
        with self._lock:
            self._watch_log.remove(watcher)

    def watcher_count(self) -> int:
        """How many watches are open (tests wait on it instead of sleeping)."""
        with self._lock:
            return self._watch_log.count()

    def close_watches(self) -> None:
        """End every open watch (server shutdown)."""
        with self._lock:
            self._watch_log.close()

    async def watch(
        self,
        resource: ResourceType | str,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> AsyncIterator[WatchEvent]:
        """("ADDED"|"MODIFIED"|"DELETED", object) events; ApiError 410 if expired."""
        watcher, initial = self.subscribe(
            resource, namespace, resource_version, label_selector, field_selector
        )
        try:
            for event in initial:
                yield event
            while True:
                item = await watcher.queue.get()
                if item is CLOSE:
                    return
                yield item
        finally:
            self.unsubscribe(watcher)

    @staticmethod
    def is_close(item: Any) -> bool:
        """True for the sentinel that ends a watcher's queue."""
        return item is CLOSE


# -- pure helpers ------------------------------------------------------------------
def _without_rv(obj: dict) -> dict:
    meta = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


def _spec_changed(rtype: ResourceType, old: dict, new: dict) -> bool:
    """Generation rule: anything but metadata (and status, with a subresource)."""
    skip = {"metadata", "apiVersion", "kind"}
    if rtype.has_status_subresource:
        skip.add("status")
    keys = (set(old) | set(new)) - skip
    return any(old.get(k) != new.get(k) for k in keys)
