"""Linkerd retries: annotations (2.16+) and the older ServiceProfile.

Annotations (``kind="service"`` or ``kind="httproute"``): the retry settings
are the ``retry.linkerd.io/*`` and ``timeout.linkerd.io/*`` annotations of a
Service, or of an HTTPRoute whose parent is a Service (route annotations
replace the Service's as a block). That set of annotations is the object's
one "route" for snapshots and restores: restoring puts back exactly the
original set, and nothing else.

=================  ==============================================
ours               Linkerd
=================  ==============================================
max_retries        ``retry.linkerd.io/limit`` (1 when unset)
per_retry_timeout  ``retry.linkerd.io/timeout`` (each try but the
                   last, which runs until the other timeouts)
server-error       ``5xx`` in ``retry.linkerd.io/http``
gateway-error      ``gateway-error``
client-error       ``409``
gRPC events        ``retry.linkerd.io/grpc`` (Service only; an
                   HTTPRoute ignores it)
stream-error       refused: always retried, not selectable
connection-error   refused: Linkerd never retries them
=================  ==============================================

``max_retries=0`` is refused: Linkerd reads ``limit: "0"`` as unset, which
still means 1 retry; remove the policy to have none (Linkerd has no default
retries). ``timeout.linkerd.io/*`` are kept as they are when a policy is set.

ServiceProfile (``kind="serviceprofile"``, ``linkerd.io/v1alpha2``): routes are
``spec.routes[]`` and the retry setting is ``isRetryable``; retries are
budgeted by ``spec.retryBudget`` (reported, not changed), not counted, and
there is no per-try timeout. A ServiceProfile overrides the annotations.
Sources: docs/mesh-behaviour.md, "Linkerd retries".
"""

from __future__ import annotations

import copy
import re
from typing import Any

from chaoslitmus.mesh.istio import parse_duration_ms as go_duration_ms
from chaoslitmus.mesh.policy import GRPC_RETRY_EVENTS, PolicyError, RetryPolicy
from chaoslitmus.mesh.routes import Adapter, RouteInfo

__all__ = [
    "ANNOTATIONS_FIELD",
    "BLOCK_PREFIXES",
    "HTTPROUTE_ADAPTERS",
    "SERVICEPROFILE_ADAPTER",
    "SERVICE_ADAPTER",
    "format_duration",
    "from_policy",
    "parse_duration_ms",
    "service_parent",
    "to_policy",
]

BLOCK_PREFIXES = ("retry.linkerd.io/", "timeout.linkerd.io/")
HTTP = "retry.linkerd.io/http"
GRPC = "retry.linkerd.io/grpc"
LIMIT = "retry.linkerd.io/limit"
TIMEOUT = "retry.linkerd.io/timeout"
# The snapshot's "field" for annotation-based retry settings.
ANNOTATIONS_FIELD = "metadata.annotations"
LIMIT_MAX = 65_535

TO_HTTP = {
    "server-error": "5xx",
    "gateway-error": "gateway-error",
    "client-error": "409",
}
FROM_HTTP = {token: event for event, token in TO_HTTP.items()}
EXPRESSIBLE = "server-error (5xx), gateway-error, client-error (409) and gRPC events"

DEFAULT_NOTE = (
    "without retry annotations Linkerd does not retry (annotation retries are "
    "opt-in); an HTTPRoute without them uses its Service's"
)
SERVICEPROFILE_NOTE = (
    "a ServiceProfile route without isRetryable is not retried; retries of "
    "retryable routes are limited by spec.retryBudget (default 20% of "
    "requests + 10 per second), not counted"
)

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration_ms(text: object) -> int | None:
    """A Linkerd annotation duration: one integer and one unit, or bare ``0``."""
    if text == "0":
        return 0
    match = _DURATION.match(text) if isinstance(text, str) else None
    return int(match.group(1)) * _UNIT_MS[match.group(2)] if match else None


def format_duration(ms: int) -> str:
    """``2s`` when whole seconds, else ``1500ms`` (Linkerd takes no compounds)."""
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


# ------------------------------------------------------------------ annotations


def _block(obj: dict) -> dict[str, str]:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return {
        key: value
        for key, value in annotations.items()
        if isinstance(key, str) and key.startswith(BLOCK_PREFIXES)
    }


def service_parent(route: dict) -> dict | None:
    """The first parentRef of an HTTPRoute that is a Service (core group)."""
    refs = (route.get("spec") or {}).get("parentRefs") or []
    for ref in refs:
        if (
            isinstance(ref, dict)
            and ref.get("kind") == "Service"
            and ref.get("group") in ("", "core", None)
        ):
            return ref
    return None


def _read_service(obj: dict) -> list[Any]:
    meta = obj.get("metadata") or {}
    return [{"name": meta.get("name"), "annotations": _block(obj)}]


def _read_httproute(obj: dict) -> list[Any]:
    meta = obj.get("metadata") or {}
    parent = service_parent(obj)
    return [
        {
            "name": meta.get("name"),
            "annotations": _block(obj),
            "service": parent.get("name") if parent else None,
        }
    ]


def _write(obj: dict, new_routes: list[Any]) -> dict:
    """Merge patch of the annotations: changed ones set, dropped ones null."""
    current = _block(obj)
    wanted = (new_routes[0] if new_routes else {}).get("annotations") or {}
    patch: dict[str, Any] = {k: None for k in current if k not in wanted}
    patch.update({k: v for k, v in wanted.items() if current.get(k) != v})
    return {"metadata": {"annotations": patch}}


def _describe(kind: str) -> Any:
    def describe(route: dict, index: int) -> RouteInfo:
        label = str(route.get("name") or f"{kind}[{index}]")
        if kind == "httproute" and not route.get("service"):
            return RouteInfo(
                index,
                label,
                kind,
                "its parentRefs name no Service, and Linkerd reads retry "
                "annotations only on routes whose parent is a Service: add a "
                "parentRef {group: '', kind: Service, name: <service>} or "
                "annotate the Service (kind='service')",
            )
        return RouteInfo(index, label, kind)

    return describe


def get_raw(route: dict) -> dict | None:
    block = route.get("annotations")
    return copy.deepcopy(block) if isinstance(block, dict) and block else None


def set_raw(route: dict, raw: dict | None) -> dict:
    new = copy.deepcopy(route)
    new["annotations"] = copy.deepcopy(raw) if raw else {}
    return new


def _tokens(text: object) -> list[str]:
    return [t for t in text.split(",") if t] if isinstance(text, str) else []


def to_policy(raw: dict) -> RetryPolicy:
    """Annotations -> ours; the limit Linkerd applies (1) when it is unset."""
    http, others = [], []
    for token in _tokens(raw.get(HTTP)):
        event = FROM_HTTP.get(token.lower())
        (http if event else others).append(event or token)
    grpc = []
    for token in _tokens(raw.get(GRPC)):
        (grpc if token.lower() in GRPC_RETRY_EVENTS else others).append(token.lower())
    limit_text = raw.get(LIMIT)
    digits = isinstance(limit_text, str) and limit_text.isdigit()
    limit = int(limit_text) if digits else None
    retrying = any(k.startswith("retry.linkerd.io/") for k in raw)
    if retrying and not limit:
        limit = 1
    return RetryPolicy(
        max_retries=limit,
        per_retry_timeout_ms=parse_duration_ms(raw.get(TIMEOUT)) or None,
        http_retry_events=tuple(http),
        grpc_retry_events=tuple(grpc),
        other_events=tuple(others),
    )


def from_policy(policy: RetryPolicy, info: RouteInfo, old: dict | None) -> dict:
    """New retry annotations; the timeout.linkerd.io/* ones are kept."""
    del info
    new = {k: v for k, v in (old or {}).items() if k.startswith("timeout.linkerd.io/")}
    if policy.http_retry_events:
        new[HTTP] = ",".join(TO_HTTP[e] for e in policy.http_retry_events)
    if policy.grpc_retry_events:
        new[GRPC] = ",".join(policy.grpc_retry_events)
    new[LIMIT] = str(policy.max_retries)
    if policy.per_retry_timeout_ms is not None:
        new[TIMEOUT] = format_duration(int(policy.per_retry_timeout_ms))
    return new


def route_timeout(route: dict) -> tuple[int | None, bool]:
    """``timeout.linkerd.io/request``: the whole request, retries included."""
    block = route.get("annotations") or {}
    return parse_duration_ms(block.get("timeout.linkerd.io/request")) or None, False


def _check(kind: str) -> Any:
    def check(policy: RetryPolicy) -> None:
        can = "it can express: " + EXPRESSIBLE
        for event, why in (
            ("stream-error", "it always retries refused streams, it cannot be chosen"),
            ("connection-error", "it never retries connection errors"),
        ):
            if event in policy.events:
                raise PolicyError(
                    f"invalid retry policy: Linkerd cannot select {event!r}: {why}; "
                    f"{can}"
                )
        if kind == "httproute" and policy.grpc_retry_events:
            raise PolicyError(
                "invalid retry policy: Linkerd ignores retry.linkerd.io/grpc on an "
                "HTTPRoute; put gRPC events on the Service (kind='service') or a "
                "GRPCRoute"
            )
        if policy.max_retries == 0:
            raise PolicyError(
                'invalid retry policy: Linkerd reads retry.linkerd.io/limit "0" '
                "as unset, which still retries once; use remove_retry_policy for "
                "no retries (Linkerd has no default retries)"
            )
        if policy.max_retries is not None and policy.max_retries > LIMIT_MAX:
            raise PolicyError(
                f"invalid retry policy: max_retries must be <= {LIMIT_MAX} for Linkerd"
            )

    return check


def _annotation_adapter(kind: str, group: str, version: str) -> Adapter:
    return Adapter(
        mesh="linkerd",
        api_version=version,
        group=group,
        plural="services" if kind == "service" else "httproutes",
        kind="Service" if kind == "service" else "HTTPRoute",
        routes_field=ANNOTATIONS_FIELD,
        describe=_describe(kind),
        get_raw=get_raw,
        set_raw=set_raw,
        to_policy=to_policy,
        from_policy=from_policy,
        check=_check(kind),
        default_note=DEFAULT_NOTE,
        route_timeout=route_timeout,
        read_routes=_read_service if kind == "service" else _read_httproute,
        routes_patch=_write,
    )


SERVICE_ADAPTER = _annotation_adapter("service", "", "v1")
HTTPROUTE_ADAPTERS = {
    version: _annotation_adapter("httproute", "gateway.networking.k8s.io", version)
    for version in ("v1", "v1beta1")
}


# -------------------------------------------------------------- ServiceProfile


def _sp_describe(route: dict, index: int) -> RouteInfo:
    name = route.get("name")
    label = name if isinstance(name, str) and name else f"routes[{index}]"
    return RouteInfo(index, label, "http")


def _sp_get_raw(route: dict) -> dict | None:
    return {"isRetryable": route["isRetryable"]} if "isRetryable" in route else None


def _sp_set_raw(route: dict, raw: dict | None) -> dict:
    new = copy.deepcopy(route)
    new.pop("isRetryable", None)
    if raw and "isRetryable" in raw:
        new["isRetryable"] = raw["isRetryable"]
    return new


def _sp_to_policy(raw: dict) -> RetryPolicy:
    """Retryable: failures (5xx unless responseClasses say otherwise), budgeted."""
    if raw.get("isRetryable") is True:
        return RetryPolicy(http_retry_events=("server-error",))
    return RetryPolicy(max_retries=0)


def _sp_from_policy(policy: RetryPolicy, info: RouteInfo, old: dict | None) -> dict:
    del info, old
    return {"isRetryable": bool(policy.max_retries)}


def _sp_check(policy: RetryPolicy) -> None:
    can = (
        "it can express: retries on server-error (isRetryable, under the "
        "retryBudget) or none (max_retries=0)"
    )
    if policy.per_retry_timeout_ms is not None:
        raise PolicyError(
            "invalid retry policy: a ServiceProfile has no per-try timeout (its "
            f"route timeout covers all retries): drop per_retry_timeout_ms; {can}"
        )
    others = [e for e in policy.events if e != "server-error"]
    if others:
        raise PolicyError(
            f"invalid retry policy: a ServiceProfile retries the responses its "
            f"responseClasses mark as failures (5xx by default), not "
            f"{', '.join(repr(e) for e in others)}; {can}"
        )


def _sp_route_timeout(route: dict) -> tuple[int | None, bool]:
    value = go_duration_ms(route.get("timeout"))
    return (int(value) if value else None), False


SERVICEPROFILE_ADAPTER = Adapter(
    mesh="linkerd",
    api_version="v1alpha2",
    group="linkerd.io",
    plural="serviceprofiles",
    kind="ServiceProfile",
    routes_field="routes",
    describe=_sp_describe,
    get_raw=_sp_get_raw,
    set_raw=_sp_set_raw,
    to_policy=_sp_to_policy,
    from_policy=_sp_from_policy,
    check=_sp_check,
    default_note=SERVICEPROFILE_NOTE,
    route_timeout=_sp_route_timeout,
)
