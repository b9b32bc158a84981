"""Mesh objects -> the Envoy routes the lab's proxy applies (pure).

What a mesh control plane does for the sidecar of `reviews`: read the
VirtualService for `ratings` (and, for App Mesh v1beta2, its VirtualRouter
and VirtualNodes) and produce Envoy routes with retry policies and timeouts.
The extension under test edits these objects; the proxy must follow them the
way App Mesh or Istio would, including the defaults they apply when no
policy is written (docs/mesh-behaviour.md, App Mesh and Istio sections;
Gateway API and Linkerd in `other_meshes.py`):

* App Mesh, no retry policy: 2 retries on 503, connect-failure,
  refused-stream and reset; no per-try timeout; route timeout 15 s.
  An explicit policy replaces it; its events map to Envoy as
  server-error -> 500-508, 510, 511 + reset; gateway-error -> 502-504 +
  reset; client-error -> 409; stream-error -> refused-stream;
  connection-error -> connect-failure. `timeout.perRequest` (v1beta2) sets the
  route timeout, 0 disables it.
* Istio, no `retries`: 2 retries on connect-failure, refused-stream,
  unavailable, cancelled (no 503 since 1.24); no per-try timeout; no route
  timeout. `retries.attempts` 0 (or unset) disables retries; `retryOn`
  replaces the default list (bare numbers are status codes); without it the
  default list stays.

Lab choices where the sources are silent: the `previous_hosts` predicate is
the lab's `retry_host_predicate` option for every route (Istio's explicit
`retryIgnorePreviousHosts` wins); App Mesh routes without `priority` come
after prioritised ones, in list order; a VirtualNode's endpoints are the pods
its `podSelector.matchLabels` selects (App Mesh v1beta1 has no VirtualNode
resource in the lab: `ratings-v1` means labels app=ratings, version=v1, the
BookInfo convention). With no mesh object at all, traffic passes through to
the Service's pods with no retries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from chaoslitmus.lab.mesh.envoy import Cluster, Match, RetryPolicy, Route, RouteTable
from chaoslitmus.lab.mesh.fields import (
    duration_ms,
    int_field,
    meta_of,
    ms_text,
    spec_of,
)
from chaoslitmus.lab.mesh.other_meshes import gateway_api_table, linkerd_table
from chaoslitmus.lab.options import Flavour

__all__ = [
    "APPMESH_ROUTE_TIMEOUT_MS",
    "Flavour",
    "appmesh_default_retry",
    "appmesh_retry",
    "istio_default_retry",
    "istio_retry",
    "parse_duration_ms",
    "route_table",
]

Objects = Mapping[str, Sequence[Mapping[str, Any]]]

APPMESH_ROUTE_TIMEOUT_MS = 15_000.0
SERVER_ERROR_CODES = frozenset({500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511})
APPMESH_EVENTS: dict[str, tuple[frozenset[str], frozenset[int]]] = {
    "server-error": (
        frozenset({"retriable-status-codes", "reset"}),
        SERVER_ERROR_CODES,
    ),
    "gateway-error": (
        frozenset({"retriable-status-codes", "reset"}),
        frozenset({502, 503, 504}),
    ),
    "client-error": (frozenset({"retriable-status-codes"}), frozenset({409})),
    "stream-error": (frozenset({"refused-stream"}), frozenset()),
    "connection-error": (frozenset({"connect-failure"}), frozenset()),
}
ISTIO_DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled"
HTTP_ROUTE_KEYS = ("httpRoute", "http2Route")


# --------------------------------------------------------------------- helpers


def _by_name(items: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(meta_of(o).get("name")): o for o in items}


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)")
_UNIT_MS = {"h": 3.6e6, "m": 6e4, "s": 1e3, "ms": 1.0, "us": 1e-3, "µs": 1e-3}
_UNIT_MS["ns"] = 1e-6


def parse_duration_ms(text: Any) -> float | None:
    """A protobuf/Go duration string (`2s`, `1500ms`, `1m30s`) in ms, else None."""
    return duration_ms(text, _DURATION, _UNIT_MS)


def _appmesh_duration_ms(duration: Any) -> float | None:
    """App Mesh v1beta2 `{unit: s|ms, value}` in ms."""
    if not isinstance(duration, Mapping):
        return None
    value = duration.get("value")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    unit = duration.get("unit")
    return float(value) * (1000.0 if unit == "s" else 1.0)


# ---------------------------------------------------------------- retry policies


def appmesh_default_retry(previous_hosts: bool = True) -> RetryPolicy:
    """What App Mesh's Envoy does on a route with no retry policy."""
    return RetryPolicy(
        num_retries=2,
        retry_on=frozenset(
            {
                "connect-failure",
                "refused-stream",
                "unavailable",
                "retriable-status-codes",
                "reset",
            }
        ),
        retriable_status_codes=frozenset({503}),
        previous_hosts=previous_hosts,
        summary=(
            "App Mesh default: maxRetries=2 perTry=none on "
            "503,connect-failure,refused-stream,reset"
        ),
    )


def appmesh_retry(raw: Mapping[str, Any], previous_hosts: bool = True) -> RetryPolicy:
    """An explicit App Mesh retryPolicy (v1beta2 or v1beta1 spelling)."""
    per_try = _appmesh_duration_ms(raw.get("perRetryTimeout"))
    if per_try is None and int_field(raw.get("perRetryTimeoutMillis")) is not None:
        per_try = float(raw["perRetryTimeoutMillis"])
    retries = max(0, int_field(raw.get("maxRetries")) or 0)
    events = [
        str(e)
        for key in ("httpRetryEvents", "tcpRetryEvents")
        for e in raw.get(key) or []
    ]
    retry_on: set[str] = set()
    codes: set[int] = set()
    for event in events:
        tokens, statuses = APPMESH_EVENTS.get(event, (frozenset(), frozenset()))
        retry_on |= tokens
        codes |= statuses
    on = ",".join(events) or "nothing"
    return RetryPolicy(
        num_retries=retries,
        retry_on=frozenset(retry_on),
        retriable_status_codes=frozenset(codes),
        per_try_timeout_ms=per_try or None,
        previous_hosts=previous_hosts,
        summary=f"maxRetries={retries} perTry={ms_text(per_try or None)} on {on}",
    )


def istio_default_retry(previous_hosts: bool = True) -> RetryPolicy:
    """Istio's mesh default (1.24+: no 503) for a route without `retries`."""
    return RetryPolicy(
        num_retries=2,
        retry_on=frozenset(ISTIO_DEFAULT_RETRY_ON.split(",")),
        previous_hosts=previous_hosts,
        summary=f"Istio default: maxRetries=2 perTry=none on {ISTIO_DEFAULT_RETRY_ON}",
    )


def istio_retry(raw: Mapping[str, Any], previous_hosts: bool = True) -> RetryPolicy:
    """An explicit Istio HTTPRetry block."""
    attempts = int_field(raw.get("attempts")) or 0
    if attempts <= 0:
        return RetryPolicy.none("no retries (attempts=0)")
    retry_on_text = raw.get("retryOn")
    if not isinstance(retry_on_text, str) or not retry_on_text.strip():
        retry_on_text = ISTIO_DEFAULT_RETRY_ON
    tokens = [t.strip() for t in retry_on_text.split(",") if t.strip()]
    codes = frozenset(int(t) for t in tokens if t.isdigit())
    retry_on = {t for t in tokens if not t.isdigit()}
    if codes:
        retry_on.add("retriable-status-codes")
    ignore = raw.get("retryIgnorePreviousHosts")
    base = parse_duration_ms(raw.get("backoff")) or 25.0
    per_try = parse_duration_ms(raw.get("perTryTimeout")) or None
    return RetryPolicy(
        num_retries=attempts,
        retry_on=frozenset(retry_on),
        retriable_status_codes=codes,
        per_try_timeout_ms=per_try,
        previous_hosts=ignore if isinstance(ignore, bool) else previous_hosts,
        backoff_base_ms=base,
        backoff_max_ms=10 * base,
        summary=(
            f"maxRetries={attempts} perTry={ms_text(per_try)} on {','.join(tokens)}"
        ),
    )


# ---------------------------------------------------------------------- App Mesh


def _appmesh_match(match: Any) -> Match:
    match = match if isinstance(match, Mapping) else {}
    method = match.get("method") if isinstance(match.get("method"), str) else None
    path = match.get("path") if isinstance(match.get("path"), Mapping) else {}
    if isinstance(path.get("exact"), str):
        return Match(prefix=None, exact=path["exact"], method=method)
    if isinstance(path.get("regex"), str):
        return Match(prefix=None, regex=path["regex"], method=method)
    prefix = match.get("prefix") if isinstance(match.get("prefix"), str) else "/"
    return Match(prefix=prefix, method=method)


def _priority_order(routes: Sequence[Mapping[str, Any]], priority_of: Any) -> list:
    """Prioritised routes first (0 highest), then the others in list order."""
    indexed = list(enumerate(routes))
    return [
        route
        for _, route in sorted(
            indexed,
            key=lambda pair: (
                priority_of(pair[1]) is None,
                priority_of(pair[1]) or 0,
                pair[0],
            ),
        )
    ]


def _node_labels(node: Mapping[str, Any] | None) -> dict[str, str] | None:
    if node is None:
        return None
    selector = spec_of(node).get("podSelector") or {}
    labels = selector.get("matchLabels") if isinstance(selector, Mapping) else None
    return dict(labels) if isinstance(labels, Mapping) else None


def _bookinfo_labels(virtual_node: str) -> dict[str, str]:
    """`ratings-v1` -> app=ratings, version=v1 (how BookInfo labels its pods)."""
    app, _, version = virtual_node.rpartition("-")
    return {"app": app, "version": version} if app else {"app": virtual_node}


def _find_appmesh_service(
    services: Sequence[Mapping[str, Any]], host: str
) -> Mapping[str, Any] | None:
    for vs in services:
        if host in (meta_of(vs).get("name"), spec_of(vs).get("awsName")):
            return vs
    return None


def _appmesh_route(
    raw: Mapping[str, Any],
    http: Mapping[str, Any],
    clusters: tuple[Cluster, ...],
    timeout_ms: float | None,
    source: str,
    previous_hosts: bool,
) -> Route:
    """One App Mesh route (either API version) from its HTTP block: its retry
    policy, or App Mesh's default when it has none."""
    policy = http.get("retryPolicy")
    retry = (
        appmesh_retry(policy, previous_hosts)
        if isinstance(policy, Mapping)
        else appmesh_default_retry(previous_hosts)
    )
    return Route(
        name=str(raw.get("name", "")),
        match=_appmesh_match(http.get("match")),
        clusters=clusters,
        retry=retry,
        timeout_ms=timeout_ms,
        source=source,
    )


def _appmesh_v1beta2(
    host: str, objects: Objects, previous_hosts: bool
) -> RouteTable | None:
    vs = _find_appmesh_service(objects.get("virtualservices", ()), host)
    if vs is None:
        return None
    nodes = _by_name(objects.get("virtualnodes", ()))
    routers = _by_name(objects.get("virtualrouters", ()))
    provider = spec_of(vs).get("provider") or {}
    source = f"appmesh.k8s.aws/v1beta2 VirtualService {meta_of(vs).get('name')}"
    node_provider = (
        provider.get("virtualNode") if isinstance(provider, Mapping) else None
    )
    if isinstance(node_provider, Mapping):
        name = str((node_provider.get("virtualNodeRef") or {}).get("name", ""))
        cluster = Cluster.of(name, 1, _node_labels(nodes.get(name)))
        route = Route(
            name=name or "virtual-node",
            match=Match(),
            clusters=(cluster,),
            retry=appmesh_default_retry(previous_hosts),
            timeout_ms=APPMESH_ROUTE_TIMEOUT_MS,
            source=source,
        )
        return RouteTable((route,))
    router_provider = (
        provider.get("virtualRouter") if isinstance(provider, Mapping) else {}
    )
    ref = (router_provider or {}).get("virtualRouterRef") or {}
    router = routers.get(str(ref.get("name")))
    if router is None:
        return RouteTable(
            problems=(f"{source}: VirtualRouter {ref.get('name')} not found",)
        )
    source = f"appmesh.k8s.aws/v1beta2 VirtualRouter {meta_of(router).get('name')}"
    routes: list[Route] = []
    raw_routes = [
        r for r in spec_of(router).get("routes") or [] if isinstance(r, Mapping)
    ]
    for raw in _priority_order(raw_routes, lambda r: int_field(r.get("priority"))):
        http = next(
            (raw[k] for k in HTTP_ROUTE_KEYS if isinstance(raw.get(k), Mapping)), None
        )
        if http is None:
            continue
        clusters = tuple(
            Cluster.of(
                name,
                int_field(target.get("weight")) or 0,
                _node_labels(nodes.get(name)),
            )
            for target in (http.get("action") or {}).get("weightedTargets") or []
            for name in [str((target.get("virtualNodeRef") or {}).get("name", ""))]
        )
        per_request = _appmesh_duration_ms(
            (http.get("timeout") or {}).get("perRequest")
        )
        timeout = APPMESH_ROUTE_TIMEOUT_MS if per_request is None else per_request
        routes.append(
            _appmesh_route(raw, http, clusters, timeout or None, source, previous_hosts)
        )
    return RouteTable(tuple(routes))


def _appmesh_v1beta1(
    host: str, objects: Objects, previous_hosts: bool
) -> RouteTable | None:
    vs = _find_appmesh_service(objects.get("virtualservices", ()), host)
    if vs is None:
        return None
    source = f"appmesh.k8s.aws/v1beta1 VirtualService {meta_of(vs).get('name')}"
    routes: list[Route] = []
    raw_routes = [r for r in spec_of(vs).get("routes") or [] if isinstance(r, Mapping)]
    # The legacy controller reads `priority` at route level (docs/mesh-behaviour.md).
    for raw in _priority_order(raw_routes, lambda r: int_field(r.get("priority"))):
        http = next(
            (raw[k] for k in ("http", "http2") if isinstance(raw.get(k), Mapping)), None
        )
        if http is None:
            continue
        clusters = tuple(
            Cluster.of(name, int_field(t.get("weight")) or 0, _bookinfo_labels(name))
            for t in (http.get("action") or {}).get("weightedTargets") or []
            for name in [str(t.get("virtualNodeName", ""))]
        )
        routes.append(
            _appmesh_route(
                raw, http, clusters, APPMESH_ROUTE_TIMEOUT_MS, source, previous_hosts
            )
        )
    return RouteTable(tuple(routes))


# ------------------------------------------------------------------------- Istio


def _service_labels(
    services: Mapping[str, Mapping[str, Any]], host: str, namespace: str
) -> dict[str, str] | None:
    """The pods a destination host reaches: its Service's selector."""
    short = host.split(".")[0]
    if "." in host and not host.startswith(f"{short}.{namespace}."):
        return None  # another namespace: not in the lab
    service = services.get(short)
    if service is None:
        return None
    selector = spec_of(service).get("selector")
    return dict(selector) if isinstance(selector, Mapping) else None


def _istio_match(matches: Any) -> list[Match]:
    if not isinstance(matches, list) or not matches:
        return [Match()]
    out = []
    for item in matches:
        if not isinstance(item, Mapping):
            continue
        uri = item.get("uri") if isinstance(item.get("uri"), Mapping) else {}
        method_match = (
            item.get("method") if isinstance(item.get("method"), Mapping) else {}
        )
        method = method_match.get("exact")
        method = method if isinstance(method, str) else None
        if isinstance(uri.get("exact"), str):
            out.append(Match(prefix=None, exact=uri["exact"], method=method))
        elif isinstance(uri.get("regex"), str):
            out.append(Match(prefix=None, regex=uri["regex"], method=method))
        else:
            prefix = uri.get("prefix") if isinstance(uri.get("prefix"), str) else "/"
            out.append(Match(prefix=prefix, method=method))
    return out or [Match()]


def _istio_hosts_match(hosts: Any, host: str, namespace: str) -> bool:
    names = {host, f"{host}.{namespace}", f"{host}.{namespace}.svc.cluster.local"}
    return isinstance(hosts, list) and any(h in names for h in hosts)


def _istio(
    host: str, namespace: str, objects: Objects, previous_hosts: bool
) -> RouteTable | None:
    services = _by_name(objects.get("services", ()))
    vs = next(
        (
            v
            for v in objects.get("virtualservices", ())
            if _istio_hosts_match(spec_of(v).get("hosts"), host, namespace)
        ),
        None,
    )
    if vs is None:
        # Istio still proxies to the Service, with its default retry policy.
        route = Route(
            name="default",
            match=Match(),
            clusters=(Cluster.of(host, 1, _service_labels(services, host, namespace)),),
            retry=istio_default_retry(previous_hosts),
            timeout_ms=None,
            source=f"Istio default route to Service {host}",
        )
        return RouteTable((route,))
    source = f"networking.istio.io VirtualService {meta_of(vs).get('name')}"
    routes: list[Route] = []
    for index, raw in enumerate(spec_of(vs).get("http") or []):
        if not isinstance(raw, Mapping):
            continue
        destinations = [d for d in raw.get("route") or [] if isinstance(d, Mapping)]
        # Istio: a lone destination takes all traffic; otherwise weights count.
        lone = 100 if len(destinations) == 1 else 0
        clusters = tuple(
            Cluster.of(
                dest_host,
                lone if int_field(d.get("weight")) is None else int(d["weight"]),
                _service_labels(services, dest_host, namespace),
            )
            for d in destinations
            for dest_host in [str((d.get("destination") or {}).get("host", ""))]
        )
        retries = raw.get("retries")
        retry = (
            istio_retry(retries, previous_hosts)
            if isinstance(retries, Mapping)
            else istio_default_retry(previous_hosts)
        )
        timeout = parse_duration_ms(raw.get("timeout"))
        name = raw.get("name") if isinstance(raw.get("name"), str) else f"http[{index}]"
        for match in _istio_match(raw.get("match")):
            routes.append(
                Route(
                    name=name,
                    match=match,
                    clusters=clusters,
                    retry=retry,
                    timeout_ms=timeout or None,
                    source=source,
                )
            )
    return RouteTable(tuple(routes))


# ------------------------------------------------------------------------ entry


def route_table(
    flavour: Flavour,
    namespace: str,
    service: str,
    objects: Objects,
    previous_hosts: bool = True,
    gateway_api_implementation: str = "envoy-gateway",
) -> RouteTable:
    """The routes for calls to `service` (a Service name in `namespace`).

    `objects` maps "virtualservices", "virtualrouters", "virtualnodes",
    "httproutes", "serviceprofiles" and "services" to the objects of that
    kind in the namespace (Gateway API and Linkerd: `other_meshes.py`).
    """
    fqdn = f"{service}.{namespace}.svc.cluster.local"
    services = _by_name(objects.get("services", ()))

    def labels_of(name: str) -> dict[str, str] | None:
        return _service_labels(services, name, namespace)

    if flavour == "istio":
        table = _istio(service, namespace, objects, previous_hosts)
    elif flavour == "gateway-api":
        table = gateway_api_table(
            service,
            objects,
            labels_of,
            previous_hosts,
            gateway_api_implementation,
            istio_default_retry(previous_hosts),
        )
    elif flavour == "linkerd":
        table = linkerd_table(service, namespace, objects, labels_of)
    elif flavour == "appmesh-v1beta1":
        table = _appmesh_v1beta1(fqdn, objects, previous_hosts)
    elif flavour == "appmesh-v1beta2":
        table = _appmesh_v1beta2(fqdn, objects, previous_hosts)
    else:
        raise ValueError(f"unknown mesh flavour {flavour!r}")
    if table is not None:
        return table
    passthrough = Route(
        name="passthrough",
        match=Match(),
        clusters=(
            Cluster.of(service, 1, _service_labels(services, service, namespace)),
        ),
        retry=RetryPolicy.none("no retries (no mesh route: passthrough)"),
        timeout_ms=None,
        source=f"no VirtualService for {fqdn}",
    )
    return RouteTable((passthrough,), problems=(f"no VirtualService for {fqdn}",))
