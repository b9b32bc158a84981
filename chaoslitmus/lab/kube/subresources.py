"""Subresources beyond `/status`: `pods/log`, `pods/eviction`, `*/scale`,
and clear refusals for what the lab does not model (`pods/exec`,
`pods/attach`, `*/proxy`...).

Shapes follow the Kubernetes 1.30 API: `autoscaling/v1` Scale for the
scale subresource, `policy/v1` Eviction (no PodDisruptionBudgets exist in
the lab, so an eviction always deletes the pod), `text/plain` logs with
`container`, `tailLines`, `sinceSeconds`, `sinceTime`, `timestamps`,
`previous` and `follow`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import ApiError, bad_request, conflict
from .patches import PatchError, apply_json_patch, apply_merge_patch

if TYPE_CHECKING:
    from .resources import ResourceType
    from .store import Store

__all__ = ["SCALABLE", "not_modelled", "pod_log", "scale", "evict"]

SCALABLE = frozenset(
    {"apps/v1/deployments", "apps/v1/replicasets", "apps/v1/statefulsets"}
)
_FOLLOW_POLL_S = 0.2


def not_modelled(what: str) -> ApiError:
    """The Status for a part of Kubernetes the lab does not emulate."""
    return ApiError(
        405,
        "MethodNotAllowed",
        f"the chaoslitmus lab does not model {what}; see the lab's README "
        "(what the lab models) for what it serves",
    )


# -- pods/log -----------------------------------------------------------------
def _container(pod: dict[str, Any], wanted: str | None) -> str:
    names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    name = pod["metadata"]["name"]
    if wanted:
        if wanted not in names:
            raise bad_request(f"container {wanted} is not valid for pod {name}")
        return wanted
    if len(names) > 1:
        raise bad_request(
            f"a container name must be specified for pod {name}, choose one of: "
            f"[{' '.join(names)}]"
        )
    return names[0] if names else ""


def _waiting(pod: dict[str, Any], container: str) -> str | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            waiting = (status.get("state") or {}).get("waiting")
            if waiting is not None:
                return waiting.get("reason") or "ContainerCreating"
            return None
    if (pod.get("status") or {}).get("phase") in (None, "Pending"):
        return "ContainerCreating"
    return None


def _since(query: Any) -> dt.datetime | None:
    if query.get("sinceSeconds"):
        try:
            seconds = int(query["sinceSeconds"])
        except ValueError:
            raise bad_request("sinceSeconds must be an integer") from None
        return dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=seconds)
    if query.get("sinceTime"):
        text = query["sinceTime"].replace("Z", "+00:00")
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            raise bad_request("sinceTime must be an RFC 3339 time") from None
    return None


def _render(lines: list[Any], timestamps: bool) -> bytes:
    out = []
    for line in lines:
        prefix = ""
        if timestamps:
            prefix = line.at.strftime("%Y-%m-%dT%H:%M:%S.%f000Z") + " "
        out.append(f"{prefix}{line.text}\n")
    return "".join(out).encode()


async def pod_log(
    request: web.Request, store: Store, rtype: ResourceType, ns: str, name: str
) -> web.StreamResponse:
    pod = store.get(rtype, ns, name)
    query = request.query
    container = _container(pod, query.get("container"))
    if query.get("previous", "").lower() == "true":
        raise bad_request(
            f'previous terminated container "{container}" in pod "{name}" not found'
        )
    waiting = _waiting(pod, container)
    if waiting:
        raise bad_request(
            f'container "{container}" in pod "{name}" is waiting to start: {waiting}'
        )
    tail = query.get("tailLines")
    try:
        tail_lines = int(tail) if tail not in (None, "") else None
    except ValueError:
        raise bad_request("tailLines must be an integer") from None
    timestamps = query.get("timestamps", "").lower() == "true"
    lines = store.logs.read(ns, name, container, since=_since(query), tail=tail_lines)
    if query.get("follow", "").lower() != "true":
        return web.Response(body=_render(lines, timestamps), content_type="text/plain")
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    uid = pod["metadata"]["uid"]
    last = lines[-1].seq if lines else 0
    try:
        await response.write(_render(lines, timestamps))
        while True:
            await asyncio.sleep(_FOLLOW_POLL_S)
            try:
                if store.get(rtype, ns, name)["metadata"]["uid"] != uid:
                    break
            except ApiError:
                break  # the pod is gone: the log stream ends
            fresh = store.logs.read(ns, name, container, after_seq=last)
            if fresh:
                last = fresh[-1].seq
                await response.write(_render(fresh, timestamps))
        await response.write_eof()
    except ConnectionResetError:
        pass
    return response


# -- scale -------------------------------------------------------------------------
def _selector_text(obj: dict[str, Any]) -> str:
    selector = (obj.get("spec") or {}).get("selector") or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        values = ",".join(expr.get("values") or [])
        op = expr.get("operator", "")
        if op == "In":
            parts.append(f"{expr['key']} in ({values})")
        elif op == "NotIn":
            parts.append(f"{expr['key']} notin ({values})")
        elif op == "Exists":
            parts.append(expr["key"])
        elif op == "DoesNotExist":
            parts.append(f"!{expr['key']}")
    return ",".join(parts)


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    """The autoscaling/v1 Scale view of a workload."""
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 1))},
        "status": {
            "replicas": int((obj.get("status") or {}).get("replicas") or 0),
            "selector": _selector_text(obj),
        },
    }


async def scale(
    request: web.Request,
    store: Store,
    rtype: ResourceType,
    ns: str,
    name: str,
    verb: str,
    body: Any,
    patch_type: str | None = None,
    field_manager: str | None = None,
) -> dict[str, Any]:
    """GET, PUT or PATCH a workload's Scale; returns the Scale after the change."""
    if rtype.key not in SCALABLE:
        raise not_modelled(f"the scale subresource of {rtype.group_resource}")
    current = store.get(rtype, ns, name)
    view = scale_of(current)
    if verb == "get":
        return view
    if verb == "patch":
        try:
            if patch_type == "json":
                wanted = apply_json_patch(view, body)
            elif isinstance(body, dict):
                wanted = apply_merge_patch(view, body)
            else:
                raise bad_request("a merge patch must be a JSON object")
        except PatchError as exc:
            raise bad_request(str(exc)) from None
    else:
        wanted = body
    if not isinstance(wanted, dict):
        raise bad_request("the Scale body must be an object")
    replicas = (wanted.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise ApiError(
            422,
            "Invalid",
            f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
            f"{json.dumps(replicas)}: must be greater than or equal to 0",
            [
                {
                    "reason": "FieldValueInvalid",
                    "field": "spec.replicas",
                    "message": "must be greater than or equal to 0",
                }
            ],
            details={"name": name, "group": "autoscaling", "kind": "Scale"},
        )
    wanted_rv = (wanted.get("metadata") or {}).get("resourceVersion")
    if (
        verb == "update"
        and wanted_rv
        and wanted_rv != current["metadata"]["resourceVersion"]
    ):
        raise conflict(rtype, name)
    updated = store.patch(
        rtype,
        ns,
        name,
        {"spec": {"replicas": replicas}},
        field_manager=field_manager,
    )
    return scale_of(updated)


# -- eviction ------------------------------------------------------------------------
def evict(store: Store, rtype: ResourceType, ns: str, name: str, body: Any) -> dict:
    """policy/v1 Eviction: no disruption budget exists, so the pod is deleted."""
    if not isinstance(body, dict) or body.get("kind") not in (None, "Eviction"):
        raise bad_request("the body must be a policy/v1 Eviction")
    options = body.get("deleteOptions") or {}
    store.delete(
        rtype,
        ns,
        name,
        options.get("gracePeriodSeconds"),
        preconditions=options.get("preconditions"),
        dry_run="All" in (options.get("dryRun") or []),
    )
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
    }
