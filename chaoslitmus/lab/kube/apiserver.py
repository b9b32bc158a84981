"""The lab's Kubernetes API over HTTP (aiohttp), for kubectl and real clients.

Routes follow the Kubernetes REST layout: discovery (`/api`, `/apis`,
`/version`), CRUD, `/status`, list and watch for every type the store's
registry serves. Errors are Status objects shaped like the apiserver's, so
the official client raises the same `ApiException`s it would on a cluster.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import podproxy
from .bodies import MAX_BODY_BYTES, decode_body, too_large
from .defaults import RETURNS_DELETED_OBJECT
from .errors import ApiError, bad_request, unknown_resource
from .managed_fields import manager_from
from .openapi import group_version_document, openapi_index
from .resources import ResourceType
from .reviews import REVIEW_KEYS, answer_review
from .store import Store
from .subresources import SCALABLE, evict, not_modelled, pod_log, scale
from .tables import to_table, wants_table

__all__ = ["Authorizer", "KUBE_GIT_VERSION", "build_app"]

log = logging.getLogger("chaoslitmus.lab.kube.apiserver")

KUBE_GIT_VERSION = "v1.30.0-chaoslitmus-lab"
Authorizer = Callable[[str, ResourceType, str | None, str | None], bool]

STORE_KEY = web.AppKey("store", Store)
TOKEN_KEY = web.AppKey("token", object)
AUTHORIZER_KEY = web.AppKey("authorizer", object)
WATCHES_KEY = web.AppKey("watches", set)
MAX_BODY_KEY = web.AppKey("max_body_bytes", int)
LAB_ACTIONS_KEY = web.AppKey("lab_actions", dict)

_VERBS = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
]
_PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
}
APPLY_PATCH = "application/apply-patch+yaml"
_OPEN_PATHS = frozenset({"/healthz", "/livez", "/readyz"})


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
    )


def _error(
    error: ApiError, kind: str | None = None, name: str | None = None
) -> web.Response:
    return _json(error.to_status(kind, name), error.status)


@dataclass(frozen=True)
class _Target:
    """What a resource URL names."""

    rtype: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_path: bool


def build_app(
    store: Store,
    token: str | None = None,
    authorizer: Authorizer | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    lab_actions: dict[str, Callable[[], Any]] | None = None,
) -> web.Application:
    """The aiohttp application serving `store` as a Kubernetes API.

    Bodies over `max_body_bytes` get 413, as with kube-apiserver's limit
    (3 MiB). `lab_actions` are the lab's own verbs, outside the Kubernetes
    API: `POST /lab/<name>` runs one on the server's loop and answers its
    JSON (`chaoslitmus lab reset` uses `reset`).
    """
    app = web.Application(client_max_size=max_body_bytes)
    app[MAX_BODY_KEY] = max_body_bytes
    app[STORE_KEY] = store
    app[TOKEN_KEY] = token
    app[AUTHORIZER_KEY] = authorizer
    app[WATCHES_KEY] = set()
    app[LAB_ACTIONS_KEY] = dict(lab_actions or {})
    app.router.add_route("*", "/{tail:.*}", _dispatch)
    return app


async def _dispatch(request: web.Request) -> web.StreamResponse:
    token = request.app[TOKEN_KEY]
    if token is not None and request.path not in _OPEN_PATHS:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return _json(ApiError(401, "Unauthorized", "Unauthorized").to_status(), 401)
    try:
        return await _route(request)
    except ApiError as error:
        return _error(error)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception as exc:  # a lab bug must still answer like an apiserver
        log.exception("internal error serving %s %s", request.method, request.path)
        return _error(ApiError(500, "InternalError", f"Internal error occurred: {exc}"))


async def _route(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE_KEY]
    parts = [p for p in request.path.split("/") if p]
    if request.path in _OPEN_PATHS:
        return web.Response(text="ok")
    if len(parts) == 2 and parts[0] == "lab":
        return _lab_action(request, parts[1])
    if request.method != "GET" and (len(parts) < 3 or parts[0] not in ("api", "apis")):
        raise _method_not_allowed()
    if parts == ["version"]:
        return _json(_version())
    if parts[:2] == ["openapi", "v3"]:
        return _openapi(store, parts[2:])
    if parts == ["api"]:
        return _json(_api_versions(request))
    if parts == ["apis"]:
        return _json(_group_list(store))
    if parts == ["api", "v1"]:
        return _json(_resource_list(store, "", "v1"))
    if len(parts) == 2 and parts[0] == "apis":
        group = _group(store, parts[1])
        if group is None:
            raise unknown_resource()
        return _json({"kind": "APIGroup", "apiVersion": "v1", **group})
    if len(parts) == 3 and parts[0] == "apis":
        if not store.registry.types_in(parts[1], parts[2]):
            raise unknown_resource()
        return _json(_resource_list(store, parts[1], parts[2]))
    if (
        len(parts) >= 7
        and parts[2] == "namespaces"
        and parts[4:7:2]
        == [
            "pods",
            "proxy",
        ]
    ):
        return _pod_proxy(request, store, parts[3], parts[5], "/".join(parts[7:]))
    if parts[:2] == ["api", "v1"]:
        target = _parse_target(store, "", "v1", parts[2:])
    elif parts and parts[0] == "apis" and len(parts) > 3:
        target = _parse_target(store, parts[1], parts[2], parts[3:])
    else:
        raise unknown_resource()
    return await _resource_request(request, store, target)


def _lab_action(request: web.Request, name: str) -> web.Response:
    action = request.app[LAB_ACTIONS_KEY].get(name)
    if action is None:
        raise unknown_resource()
    if request.method != "POST":
        raise _method_not_allowed()
    return _json(action())


def _pod_proxy(
    request: web.Request, store: Store, namespace: str, pod_port: str, path: str
) -> web.Response:
    """GET pods/{name}:{port}/proxy/{path}: what the pod's port answers."""
    if request.method != "GET":
        raise _method_not_allowed()
    name, _, port_text = pod_port.partition(":")
    store.get("v1/pods", namespace, name)  # 404 when there is no such pod
    port = int(port_text) if port_text.isdigit() else 0
    handler = podproxy.handler_for(store)
    answer = handler(namespace, name, port, path) if handler else None
    if answer is None:
        raise ApiError(
            503,
            "ServiceUnavailable",
            f"error trying to reach service: dial tcp 127.0.0.1:{port}: connect: "
            "connection refused",
        )
    status, content_type, body = answer
    return web.Response(status=status, text=body, content_type=content_type)


def _openapi(store: Store, rest: list[str]) -> web.Response:
    if not rest:
        return _json(openapi_index(store.registry))
    document = None
    if rest[:1] == ["api"] and len(rest) == 2:
        document = group_version_document(store.registry, "", rest[1])
    elif rest[:1] == ["apis"] and len(rest) == 3:
        document = group_version_document(store.registry, rest[1], rest[2])
    if document is None:
        raise unknown_resource()
    return _json(document)


def _method_not_allowed() -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
    )


# -- discovery -------------------------------------------------------------------
def _version() -> dict[str, str]:
    return {
        "major": "1",
        "minor": "30",
        "gitVersion": KUBE_GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-04-17T00:00:00Z",
        "goVersion": "go1.22.2",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def _api_versions(request: web.Request) -> dict[str, Any]:
    host = request.host or "127.0.0.1"
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": host}
        ],
    }


def _group(store: Store, name: str) -> dict[str, Any] | None:
    versions = store.registry.group_versions().get(name)
    if not name or not versions:
        return None
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def _group_list(store: Store) -> dict[str, Any]:
    groups = [_group(store, name) for name in store.registry.group_versions() if name]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _resource_list(store: Store, group: str, version: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for rtype in sorted(
        store.registry.types_in(group, version), key=lambda t: t.plural
    ):
        entry: dict[str, Any] = {
            "name": rtype.plural,
            "singularName": rtype.singular,
            "namespaced": rtype.namespaced,
            "kind": rtype.kind,
            "verbs": list(rtype.verbs) or _VERBS,
        }
        if rtype.short_names:
            entry["shortNames"] = list(rtype.short_names)
        if rtype.categories:
            entry["categories"] = list(rtype.categories)
        resources.append(entry)
        if rtype.has_status_subresource:
            resources.append(
                {
                    "name": f"{rtype.plural}/status",
                    "singularName": "",
                    "namespaced": rtype.namespaced,
                    "kind": rtype.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        resources.extend(_subresource_entries(rtype))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def _subresource_entries(rtype: ResourceType) -> list[dict[str, Any]]:
    """Discovery entries for the subresources the lab serves."""

    def entry(sub: str, verbs: list[str], **gvk: str) -> dict[str, Any]:
        return {
            "name": f"{rtype.plural}/{sub}",
            "singularName": "",
            "namespaced": rtype.namespaced,
            "kind": gvk.pop("kind", rtype.kind),
            "verbs": verbs,
            **gvk,
        }

    out = []
    if rtype.key == "v1/pods":
        out.append(entry("log", ["get"]))
        out.append(
            entry("portforward", ["create", "get"], kind="PodPortForwardOptions")
        )
        out.append(
            entry("eviction", ["create"], group="policy", version="v1", kind="Eviction")
        )
    if rtype.key in SCALABLE:
        out.append(
            entry(
                "scale",
                ["get", "patch", "update"],
                group="autoscaling",
                version="v1",
                kind="Scale",
            )
        )
    return out


# -- resource URLs ---------------------------------------------------------------------
def _parse_target(store: Store, group: str, version: str, rest: list[str]) -> _Target:
    registry = store.registry
    watch_path = bool(rest) and rest[0] == "watch"
    if watch_path:
        rest = rest[1:]
    namespace = None
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and registry.get(group, version, rest[2]) is not None
    ):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise unknown_resource()
    rtype = registry.get(group, version, rest[0])
    if rtype is None:
        raise unknown_resource()
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if namespace is not None and not rtype.namespaced:
        raise unknown_resource()
    if namespace is None and rtype.namespaced and name is not None:
        raise unknown_resource()
    return _Target(rtype, namespace, name, subresource, watch_path)


def _verb(request: web.Request, target: _Target) -> str:
    method = request.method
    watch_param = request.query.get("watch", "").lower()
    watching = target.watch_path or watch_param in ("1", "true")
    if target.name is None:
        verbs = {
            "GET": "watch" if watching else "list",
            "POST": "create",
            "DELETE": "deletecollection",
        }
    else:
        verbs = {
            "GET": "watch" if target.watch_path else "get",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete",
        }
    verb = verbs.get(method)
    all_namespaces = target.rtype.namespaced and target.namespace is None
    if verb is None or (all_namespaces and verb not in ("list", "watch")):
        raise _method_not_allowed()
    if target.subresource is not None and verb not in ("get", "update", "patch"):
        raise _method_not_allowed()
    return verb


def _authorize(request: web.Request, verb: str, target: _Target) -> None:
    authorizer = request.app[AUTHORIZER_KEY]
    if authorizer is None or authorizer(
        verb, target.rtype, target.namespace, target.name
    ):
        return
    rtype = target.rtype
    who = (
        f'{rtype.group_resource} "{target.name}"'
        if target.name
        else rtype.group_resource
    )
    resource = rtype.plural + (f"/{target.subresource}" if target.subresource else "")
    where = (
        f'in the namespace "{target.namespace}"'
        if target.namespace
        else "at the cluster scope"
    )
    raise ApiError(
        403,
        "Forbidden",
        f'{who} is forbidden: User "lab" cannot {verb} resource "{resource}" in API '
        f'group "{rtype.group}" {where}',
        details={"name": target.name, "group": rtype.group, "kind": rtype.plural}
        if target.name
        else {"group": rtype.group, "kind": rtype.plural},
    )


async def _read(request: web.Request) -> bytes:
    """The body, or 413 when it is over the limit (announced or as it comes)."""
    limit = request.app[MAX_BODY_KEY]
    if (request.content_length or 0) > limit:
        raise too_large(limit)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large(limit) from None


async def _body(request: web.Request) -> Any:
    raw = await _read(request)
    return decode_body(raw, request.headers.get("Content-Type", "application/json"))


def _dry_run(request: web.Request) -> bool:
    return "All" in request.query.getall("dryRun", [])


def _present(
    request: web.Request,
    target: _Target,
    items: list[dict],
    rv: str,
    continue_token: str | None = None,
    single: bool = False,
) -> dict[str, Any]:
    if wants_table(request.headers.get("Accept", "")):
        return to_table(
            target.rtype,
            items,
            rv,
            request.query.get("includeObject", "Metadata"),
            continue_token,
        )
    if single:
        return items[0]
    rtype = target.rtype
    metadata: dict[str, Any] = {"resourceVersion": rv}
    if continue_token:
        metadata["continue"] = continue_token
    if rtype.is_builtin:  # typed lists carry no apiVersion/kind per item
        items = [
            {k: v for k, v in i.items() if k not in ("apiVersion", "kind")}
            for i in items
        ]
    return {
        "kind": rtype.list_kind,
        "apiVersion": rtype.api_version,
        "metadata": metadata,
        "items": items,
    }


async def _resource_request(
    request: web.Request, store: Store, target: _Target
) -> web.StreamResponse:
    if target.rtype.key in REVIEW_KEYS:
        return await _review(request, store, target)
    if target.subresource not in (None, "status"):
        return await _subresource(request, store, target)
    verb = _verb(request, target)
    _authorize(request, verb, target)
    rtype, ns, name = target.rtype, target.namespace, target.name
    query = request.query
    if verb == "watch":
        return await _watch(request, store, target)
    if verb == "list":
        limit = _int_param(query.get("limit"))
        after = _decode_continue(query.get("continue"))
        items, rv, last = store.list_page(
            rtype,
            ns,
            query.get("labelSelector"),
            query.get("fieldSelector"),
            limit=limit or None,
            continue_after=after,
        )
        token = _encode_continue(last) if last else None
        return _json(_present(request, target, items, rv, token))
    if verb == "get":
        obj = store.get(rtype, ns, name)
        if target.subresource not in (None, "status") or (
            target.subresource == "status" and not rtype.has_status_subresource
        ):
            raise unknown_resource()
        return _json(
            _present(
                request, target, [obj], obj["metadata"]["resourceVersion"], single=True
            )
        )
    if verb == "create":
        obj = store.create(
            rtype,
            ns,
            await _body(request),
            dry_run=_dry_run(request),
            field_validation=query.get("fieldValidation"),
            field_manager=_field_manager(request),
        )
        return _json(obj, 201)
    if verb == "update":
        obj = store.replace(
            rtype,
            ns,
            name,
            await _body(request),
            target.subresource,
            dry_run=_dry_run(request),
            field_validation=query.get("fieldValidation"),
            field_manager=_field_manager(request),
        )
        return _json(obj)
    if verb == "patch":
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type == APPLY_PATCH and target.subresource is None:
            obj, created = store.apply(
                rtype,
                ns,
                name or "",
                await _body(request),
                query.get("fieldManager", ""),
                query.get("force", "").lower() == "true",
                dry_run=_dry_run(request),
                field_validation=query.get("fieldValidation"),
            )
            return _json(obj, 201 if created else 200)
        patch_type = _PATCH_TYPES.get(content_type)
        if patch_type is None:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media "
                f"types include: {', '.join(_PATCH_TYPES)}",
            )
        obj = store.patch(
            rtype,
            ns,
            name,
            await _body(request),
            patch_type,
            target.subresource,
            dry_run=_dry_run(request),
            field_validation=query.get("fieldValidation"),
            field_manager=_field_manager(request),
        )
        return _json(obj)
    if verb == "delete":
        return await _delete(request, store, target)
    return await _delete_collection(request, store, target)


async def _review(request: web.Request, store: Store, target: _Target) -> web.Response:
    if request.method != "POST" or target.name is not None:
        raise _method_not_allowed()
    body = await _body(request)
    review = answer_review(
        target.rtype.key, body, store.registry, request.app[AUTHORIZER_KEY]
    )
    review["apiVersion"], review["kind"] = target.rtype.api_version, target.rtype.kind
    return _json(review, 201)


_NOT_MODELLED = frozenset(
    {"exec", "attach", "proxy", "binding", "ephemeralcontainers", "resize"}
)


async def _subresource(
    request: web.Request, store: Store, target: _Target
) -> web.StreamResponse:
    """pods/log, pods/eviction, pods/portforward, */scale; refusals for the rest."""
    rtype, ns, name, sub = (
        target.rtype,
        target.namespace,
        target.name or "",
        target.subresource or "",
    )
    if target.name is None or target.watch_path:
        raise unknown_resource()
    method = request.method
    if rtype.key == "v1/pods" and sub == "log":
        if method != "GET":
            raise _method_not_allowed()
        _authorize(request, "get", target)
        return await pod_log(request, store, rtype, ns or "", name)
    if rtype.key == "v1/pods" and sub == "eviction":
        if method != "POST":
            raise _method_not_allowed()
        _authorize(request, "create", target)
        return _json(evict(store, rtype, ns or "", name, await _body(request)), 201)
    if rtype.key == "v1/pods" and sub == "portforward":
        _authorize(request, "create", target)
        from .portforward import serve_port_forward

        return await serve_port_forward(request, store, ns or "", name)
    if sub == "scale":
        verb = {"GET": "get", "PUT": "update", "PATCH": "patch"}.get(method)
        if verb is None:
            raise _method_not_allowed()
        _authorize(request, verb, target)
        body = None if verb == "get" else await _body(request)
        patch_type = None
        if verb == "patch":
            content_type = request.headers.get("Content-Type", "").split(";")[0]
            patch_type = _PATCH_TYPES.get(content_type.strip(), "merge")
        return _json(
            await scale(
                request,
                store,
                rtype,
                ns or "",
                name,
                verb,
                body,
                patch_type,
                _field_manager(request),
            )
        )
    if sub in _NOT_MODELLED:
        raise not_modelled(f"{rtype.plural}/{sub}")
    raise unknown_resource()


def _field_manager(request: web.Request) -> str | None:
    """Who the write is recorded as in managedFields (see .managed_fields)."""
    return manager_from(
        request.query.get("fieldManager"), request.headers.get("User-Agent")
    )


def _int_param(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"invalid integer parameter {value!r}") from None


def _encode_continue(last: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"start": last}).encode()).decode()


def _decode_continue(token: str | None) -> str | None:
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))["start"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad_request("continue key is not valid") from None


async def _delete_options(request: web.Request) -> dict[str, Any]:
    raw = await _read(request)
    options: dict[str, Any] = {}
    if raw.strip():
        try:
            options = json.loads(raw)
        except ValueError as exc:
            raise bad_request(f"the DeleteOptions body is not valid: {exc}") from None
        if not isinstance(options, dict):
            raise bad_request("the DeleteOptions body must be an object")
    query = request.query
    if "gracePeriodSeconds" in query:
        options["gracePeriodSeconds"] = _int_param(query["gracePeriodSeconds"])
    if "propagationPolicy" in query:
        options["propagationPolicy"] = query["propagationPolicy"]
    if options.get("orphanDependents") is True:
        options.setdefault("propagationPolicy", "Orphan")
    return options


async def _delete(request: web.Request, store: Store, target: _Target) -> web.Response:
    options = await _delete_options(request)
    dry_run = _dry_run(request) or "All" in (options.get("dryRun") or [])
    obj, pending = store.delete_ex(
        target.rtype,
        target.namespace,
        target.name or "",
        options.get("gracePeriodSeconds"),
        propagation_policy=options.get("propagationPolicy"),
        preconditions=options.get("preconditions"),
        dry_run=dry_run,
    )
    if pending or target.rtype.key in RETURNS_DELETED_OBJECT:
        return _json(obj)
    rtype = target.rtype
    return _json(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": target.name,
                "group": rtype.group,
                "kind": rtype.plural,
                "uid": obj["metadata"]["uid"],
            },
        }
    )


async def _delete_collection(
    request: web.Request, store: Store, target: _Target
) -> web.Response:
    options = await _delete_options(request)
    items, rv = store.list(
        target.rtype,
        target.namespace,
        request.query.get("labelSelector"),
        request.query.get("fieldSelector"),
    )
    deleted = []
    for item in items:
        meta = item["metadata"]
        try:
            obj, _ = store.delete_ex(
                target.rtype,
                meta.get("namespace"),
                meta["name"],
                options.get("gracePeriodSeconds"),
                propagation_policy=options.get("propagationPolicy"),
                dry_run=_dry_run(request),
            )
        except ApiError as error:
            if error.status != 404:
                raise
            continue
        deleted.append(obj)
    return _json(_present(request, target, deleted, store.resource_version))


# -- watch ---------------------------------------------------------------------
def _watch_line(event_type: str, obj: dict[str, Any]) -> bytes:
    return (
        json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode()
        + b"\n"
    )


def _initial_events_end(rtype: ResourceType, store: Store) -> dict[str, Any]:
    return {
        "kind": rtype.kind,
        "apiVersion": rtype.api_version,
        "metadata": {
            "resourceVersion": store.resource_version,
            "annotations": {"k8s.io/initial-events-end": "true"},
        },
    }


async def _watch(
    request: web.Request, store: Store, target: _Target
) -> web.StreamResponse:
    query = request.query
    timeout_s = _int_param(query.get("timeoutSeconds"))
    field_selector = query.get("fieldSelector")
    if target.watch_path and target.name:
        name_term = f"metadata.name={target.name}"
        field_selector = (
            f"{field_selector},{name_term}" if field_selector else name_term
        )
    table = wants_table(request.headers.get("Accept", ""))
    include = query.get("includeObject", "Metadata")
    error: ApiError | None = None
    watcher = None
    # "Watch list" (sendInitialEvents): current state, then a bookmark.
    initial_events = query.get("sendInitialEvents", "").lower() == "true"
    try:
        watcher, initial = store.subscribe(
            target.rtype,
            target.namespace,
            None if initial_events else query.get("resourceVersion"),
            query.get("labelSelector"),
            field_selector,
        )
    except ApiError as exc:
        if exc.status != 410:
            raise
        error, initial = exc, []
    if initial_events and watcher is not None:
        initial.append(("BOOKMARK", _initial_events_end(target.rtype, store)))
    response = web.StreamResponse(
        status=200,
        headers={"Content-Type": "application/json", "Cache-Control": "no-cache"},
    )
    response.enable_chunked_encoding()
    await response.prepare(request)

    def encode(event_type: str, obj: dict[str, Any]) -> bytes:
        if table and event_type != "BOOKMARK":
            obj = to_table(
                target.rtype, [obj], obj["metadata"]["resourceVersion"], include
            )
        return _watch_line(event_type, obj)

    watches = request.app[WATCHES_KEY]
    task = asyncio.current_task()
    if task is not None:
        watches.add(task)
    try:
        if error is not None:
            await response.write(_watch_line("ERROR", error.to_status()))
        else:
            assert watcher is not None
            await _stream(response, store, watcher, initial, encode, timeout_s)
        await response.write_eof()
    except ConnectionResetError:
        log.debug("watch on %s ended by the client", target.rtype.key)
    finally:
        if watcher is not None:
            store.unsubscribe(watcher)
        if task is not None:
            watches.discard(task)
    return response


async def _stream(
    response: web.StreamResponse,
    store: Store,
    watcher: Any,
    initial: list[tuple[str, dict[str, Any]]],
    encode: Callable[[str, dict[str, Any]], bytes],
    timeout_s: int | None,
) -> None:
    """Send the initial events, then live ones until timeout or close."""
    for event_type, obj in initial:
        await response.write(encode(event_type, obj))
    loop = asyncio.get_running_loop()
    deadline = None if not timeout_s else loop.time() + timeout_s
    while True:
        remaining = None if deadline is None else deadline - loop.time()
        if remaining is not None and remaining <= 0:
            return
        try:
            item = await asyncio.wait_for(watcher.queue.get(), remaining)
        except asyncio.TimeoutError:
            return
        if store.is_close(item):
            return
        await response.write(encode(*item))
