# ruff: noqa: UP006, UP007, UP035, UP045
# chaoslib 1.44's discovery names only typing.List/Dict: keep them for `chaos discover`.
"""Read a service mesh's retry policy, in one vocabulary for every mesh."""

__all__ = [
    "equivalent_policies",
    "get_retry_policy",
    "retry_policy_matches",
    "retry_budget",
    "retry_stats",
    "retry_stats_during",
]

import logging
from typing import Any, Dict, List, Optional

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Secrets

from chaoslitmus.mesh import cluster
from chaoslitmus.mesh.advisories import object_warnings
from chaoslitmus.mesh.budget import retry_budget_of
from chaoslitmus.mesh.equivalence import compare
from chaoslitmus.mesh.policy import (
    GRPC_RETRY_EVENTS,
    HTTP_RETRY_EVENTS,
    TCP_RETRY_EVENTS,
    PolicyError,
    flag,
    make_policy,
    optional_events,
    optional_int,
    policy_matches,
)
from chaoslitmus.mesh.routes import read_policies, select_routes, skipped_report
from chaoslitmus.mesh.snapshot import read_snapshot, routes_of

logger = logging.getLogger("chaostoolkit.litmus.mesh")


def _read(
    name: Optional[str],
    namespace: str,
    mesh: str,
    api_version: str,
    route_name: Optional[str],
    virtual_router: Optional[str],
    secrets: Secrets,
    kind: Optional[str] = None,
) -> tuple:
    """(output, adapter): the probes' shared read of one object."""
    kube, target = cluster.connect(
        secrets, name, namespace, mesh, api_version, virtual_router, kind=kind
    )
    adapter = target.adapter
    obj = cluster.read(kube, target)
    routes = routes_of(obj, adapter) or []
    chosen, skipped = select_routes(adapter, routes, route_name, target.label)
    report = read_policies(adapter, routes, chosen)
    output = {
        "mesh": adapter.mesh,
        "kind": adapter.kind,
        "api_version": adapter.group_version,
        "object": target.describe(obj),
        "virtual_service": target.via,
        "routes": report,
        "skipped_routes": skipped_report(skipped),
        "snapshot_saved": read_snapshot(obj, adapter.routes_field) is not None,
    }
    if any(entry["policy"] is None for entry in report):
        output["note"] = adapter.default_note
    warnings = object_warnings(kube, adapter, target.namespace, obj, report)
    if warnings:
        output["warnings"] = warnings
    return output, adapter


def get_retry_policy(
    name: str,
    namespace: str,
    mesh: str = "appmesh",
    route_name: str = None,
    api_version: str = "auto",
    virtual_router: str = None,
    kind: str = None,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Report the retry policy of each route of a mesh VirtualService.

    Same target arguments as chaoslitmus.mesh.actions.set_retry_policy
    (`name`, `namespace`, `mesh` "appmesh" | "istio", `api_version` "auto",
    `route_name`, `virtual_router` for App Mesh v1beta2). For each route:
    `policy` in the shared vocabulary (max_retries, per_retry_timeout_ms,
    http/tcp/grpc retry events, and `other_events` for Istio retryOn values
    with no shared name) or null when the route has none (the mesh default
    then applies: see `note`), and `raw`, the block exactly as stored.
    `snapshot_saved` tells whether a restore_retry_policy is pending.
    `mesh` "gateway-api" and "linkerd" (with `kind`) as in set_retry_policy;
    `warnings` lists what defeats a policy (an Istio route's injected
    `fault`, reported per route as `fault_warning`; a Linkerd ServiceProfile
    that overrides annotations).
    """
    cluster.check_target_args(
        name, namespace, mesh, api_version, virtual_router, route_name, kind=kind
    )
    output, _ = _read(
        name, namespace, mesh, api_version, route_name, virtual_router, secrets, kind
    )
    return output


def retry_policy_matches(
    name: str,
    namespace: str,
    mesh: str = "appmesh",
    max_retries: int = -1,
    per_retry_timeout_ms: int = 0,
    http_retry_events: List[str] = None,
    tcp_retry_events: List[str] = None,
    grpc_retry_events: List[str] = None,
    absent: bool = False,
    route_name: str = None,
    api_version: str = "auto",
    virtual_router: str = None,
    kind: str = None,
    secrets: Secrets = None,
) -> bool:
    """Whether every selected route has the expected retry policy.

    Use it with `"tolerance": true`. Only the fields you give are compared
    (`max_retries` -1 and `per_retry_timeout_ms` 0, the defaults, are not
    compared; events as sets, order does not matter); a route with no policy never
    matches. With `absent: true` (and no expected fields) it checks instead
    that no selected route has a retry policy, e.g. after a rollback of a
    service that had none. Target arguments as in get_retry_policy.
    """
    cluster.check_target_args(
        name, namespace, mesh, api_version, virtual_router, route_name, kind=kind
    )
    expected: Dict[str, Any] = {
        "max_retries": optional_int(
            None if max_retries in (-1, "-1") else max_retries, "max_retries", 0
        ),
        "per_retry_timeout_ms": optional_int(
            None if per_retry_timeout_ms in (0, "0") else per_retry_timeout_ms,
            "per_retry_timeout_ms",
            1,
        ),
    }
    for value, key, allowed in (
        (http_retry_events, "http_retry_events", HTTP_RETRY_EVENTS),
        (tcp_retry_events, "tcp_retry_events", TCP_RETRY_EVENTS),
        (grpc_retry_events, "grpc_retry_events", GRPC_RETRY_EVENTS),
    ):
        expected[key] = None if value is None else optional_events(value, key, allowed)
    given = {key: value for key, value in expected.items() if value is not None}
    absent = flag(absent, "absent")
    if absent and given:
        raise PolicyError(
            "invalid arguments: absent=true checks that there is no policy; "
            f"drop the expected fields ({', '.join(given)})"
        )
    found, adapter = _read(
        name, namespace, mesh, api_version, route_name, virtual_router, secrets, kind
    )
    results = []
    for entry in found["routes"]:
        raw = entry["raw"]
        if absent:
            ok = raw is None
        else:
            ok = raw is not None and policy_matches(adapter.to_policy(raw), **given)
        if not ok:
            logger.info("route %r: retry policy %s", entry["name"], entry["policy"])
        results.append(ok)
    return all(results)


def _mesh_policy(side: Any, what: str) -> tuple:
    """(mesh, policy) from one side of equivalent_policies, checked like a set."""
    if not isinstance(side, dict) or not isinstance(side.get("mesh"), str):
        raise PolicyError(
            f"invalid arguments: {what} must be an object with 'mesh' and the "
            f"policy fields of set_retry_policy (got {side!r})"
        )
    mesh, kind = side["mesh"], side.get("kind")
    if mesh not in cluster.MESH_VERSIONS:
        raise PolicyError(
            f"invalid arguments: {what}.mesh must be one of "
            f"{', '.join(cluster.MESH_VERSIONS)} (got {mesh!r})"
        )
    if kind == "serviceprofile":
        raise PolicyError(
            f"invalid arguments: {what}: ServiceProfile retries are budgeted, not "
            "counted, so they compare to no other mesh; use the annotations "
            "(kind='service')"
        )
    policy = make_policy(
        side.get("max_retries"),
        side.get("per_retry_timeout_ms"),
        side.get("http_retry_events"),
        side.get("tcp_retry_events"),
        side.get("grpc_retry_events"),
    )
    cluster.check_mesh_policy(mesh, policy, kind)
    return mesh, policy


def equivalent_policies(
    a: Dict[str, Any] = None, b: Dict[str, Any] = None
) -> Dict[str, Any]:
    """Whether two meshes' retry policies give callers the same view.

    For a migration (App Mesh to Istio, Gateway API or Linkerd): `a` and `b`
    are each `{"mesh": ..., "max_retries": ..., "per_retry_timeout_ms": ...,
    "http_retry_events": [...]}` (the arguments of set_retry_policy). Each is
    turned into what its mesh does with it (status codes retried, whether
    per-try timeouts and connection errors are retried, how the next endpoint
    is chosen...). Returns `equivalent`, the `differences` a setting can
    remove, the ones it cannot (`cannot_be_equal`, e.g. Linkerd's retries do
    not avoid the endpoint that failed) and what is `not_documented` for a
    mesh. No cluster is read. Facts: docs/mesh-behaviour.md.
    """
    mesh_a, policy_a = _mesh_policy(a, "a")
    mesh_b, policy_b = _mesh_policy(b, "b")
    return compare(mesh_a, policy_a, mesh_b, policy_b)


def retry_budget(
    caller_timeout_ms: float,
    max_retries: int,
    per_retry_timeout_ms: float,
    backoff_ms: float = 25,
) -> Dict[str, Any]:
    """Before any traffic: which retries of a policy can still help a caller
    that gives up after `caller_timeout_ms`.

    Pure arithmetic, no cluster. Returns `worst_case_ms` (every try timing
    out), `useful_retries` (retries that start before the caller gives up),
    `retry_windows` (when each starts and how fast it must answer), `fits`
    (the worst case is inside the caller's timeout) and one `sentence`.
    `backoff_ms` is the pause between tries (Envoy's base interval: 25 ms).
    """
    try:
        return retry_budget_of(
            caller_timeout_ms, max_retries, per_retry_timeout_ms, backoff_ms
        )
    except ValueError as exc:
        raise ActivityFailed(f"retry_budget: {exc}") from None


MESHES = ("appmesh", "istio", "gateway-api", "linkerd")


def retry_stats(
    namespace: str,
    caller_label: str,
    upstream: str,
    mesh: str = "appmesh",
    port: int = 0,
    path: str = None,
    prometheus_url: str = None,
    timeout_s: float = 30,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Envoy's retry counters for `upstream`, summed over the caller pods.

    Reads each pod selected by `caller_label` in `namespace` through the API
    server's pods/proxy subresource (needs RBAC `get pods/proxy`): its
    sidecar's Prometheus stats (Istio: port 15090, App Mesh: 9901, path
    `stats/prometheus`; a non-zero `port` and `path` override). With
    `prometheus_url`, reads the same counters from that Prometheus server
    instead. Counters of every upstream cluster whose name contains
    `upstream` (e.g. "ratings") are summed: upstream_rq_total,
    upstream_rq_retry, upstream_rq_retry_success,
    upstream_rq_retry_limit_exceeded, upstream_rq_retry_overflow,
    upstream_rq_per_try_timeout, upstream_rq_timeout, upstream_rq_5xx; plus
    `pods`, `clusters` and `source`.
    `mesh="gateway-api"`: the Envoy of the implementation, whose port
    depends on it, so `port` is required (Istio's sidecars and gateways:
    15090; Envoy Gateway's proxy pods: 19001). `mesh="linkerd"`: the
    proxy's `4191/metrics`, Linkerd's `outbound_http_route_*` counters
    mapped onto the same keys (`upstream` matched against "<namespace>/
    <Service>:<port> <route kind>/<route>"); `upstream_rq_per_try_timeout`
    has no Linkerd counter and is null, listed in `not_counted`; 5xx and
    timeouts count final answers, not tries (docs/mesh-behaviour.md).
    """
    from chaoslitmus.mesh import envoy_stats as es
    from chaoslitmus.mesh import linkerd_stats as ls

    if mesh not in MESHES:
        raise ActivityFailed(f"unknown mesh {mesh!r}: use one of {', '.join(MESHES)}")
    if not isinstance(upstream, str) or not upstream.strip():
        raise ActivityFailed("upstream must name (part of) the upstream cluster")
    linkerd = mesh == "linkerd"
    if linkerd and prometheus_url:
        raise ActivityFailed(
            "prometheus_url is not supported for mesh='linkerd' yet: read the "
            "proxies through pods/proxy (leave prometheus_url out)"
        )
    default_port, default_path = ls.DEFAULT_STATS if linkerd else es.DEFAULT_STATS[mesh]
    port = default_port if port in (None, 0) else port
    if port == 0:
        raise ActivityFailed(
            "mesh='gateway-api' needs port=: the Envoy stats port of your "
            "implementation (Istio sidecars and gateways: 15090, Envoy Gateway "
            "proxy pods: 19001; path stats/prometheus) and caller_label= "
            "selecting those pods"
        )
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ActivityFailed(f"port must be 1-65535, got {port!r}")
    path = (default_path if path is None else str(path)).lstrip("/")
    kube = _kube(secrets, timeout_s)
    pods = _caller_pods(kube, namespace, caller_label)
    if prometheus_url:
        totals = es.prometheus_query(
            prometheus_url, namespace, pods, upstream, timeout_s
        )
        return {**totals, "pods": pods, "clusters": [], "source": prometheus_url}
    parse = ls.route_counters if linkerd else es.cluster_counters
    per_pod = {
        pod: parse(_pod_stats(kube, namespace, pod, port, path, mesh)) for pod in pods
    }
    totals: Dict[str, Any]
    totals, matched = es.sum_matching(per_pod, upstream)
    if not matched:
        seen = sorted({c for clusters in per_pod.values() for c in clusters})
        what = "route (Service parent)" if linkerd else "upstream cluster"
        proxy = "Linkerd proxy" if linkerd else "Envoy"
        raise ActivityFailed(
            f"no {what} matching {upstream!r} in the {proxy} stats of "
            f"{', '.join(pods)}; seen: {', '.join(seen) or 'none'}"
        )
    extra: Dict[str, Any] = {}
    if linkerd:
        totals.update(dict.fromkeys(ls.NOT_COUNTED))
        extra["not_counted"] = list(ls.NOT_COUNTED)
    return {
        **totals,
        "pods": pods,
        "clusters": matched,
        "source": f"pods/proxy :{port}/{path}",
        **extra,
    }


def retry_stats_during(
    duration_s: float,
    namespace: str,
    caller_label: str,
    upstream: str,
    mesh: str = "appmesh",
    port: int = 0,
    path: str = None,
    prometheus_url: str = None,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """What the retry counters did over a window (run it in the background
    next to the traffic): the deltas of `retry_stats` over `duration_s`,
    plus `requests`, `attempts_per_request` (retry amplification: tries per
    request) and `rescued` (retries that got an answer not retried again).
    """
    import time

    if isinstance(duration_s, bool) or not isinstance(duration_s, (int, float)):
        raise ActivityFailed(f"duration_s must be a number, got {duration_s!r}")
    if duration_s <= 0:
        raise ActivityFailed(f"duration_s must be > 0, got {duration_s!r}")
    from chaoslitmus.mesh import envoy_stats as es

    args = dict(
        namespace=namespace,
        caller_label=caller_label,
        upstream=upstream,
        mesh=mesh,
        port=port,
        path=path,
        prometheus_url=prometheus_url,
        secrets=secrets,
    )
    before = retry_stats(**args)
    began = time.monotonic()
    time.sleep(duration_s)
    after = retry_stats(**args)
    window = es.deltas(before, after)
    return {
        **window,
        **es.attempts_and_rescued(window),
        "window_s": round(time.monotonic() - began, 3),
        "pods": after["pods"],
        "clusters": after["clusters"],
        "source": after["source"],
        **({"not_counted": after["not_counted"]} if "not_counted" in after else {}),
    }


def _kube(secrets: Secrets, timeout_s: float):
    from chaoslitmus.k8s import Kube

    return Kube(secrets).within(timeout_s)


def _caller_pods(kube, namespace: str, caller_label: str) -> List[str]:
    found = kube.resource("", "v1", "pods", namespace).list(label_selector=caller_label)
    pods = sorted(
        p["metadata"]["name"]
        for p in found.get("items") or []
        if (p.get("status") or {}).get("phase") == "Running"
    )
    if not pods:
        raise ActivityFailed(
            f"no running caller pods match {caller_label!r} in namespace "
            f"{namespace!r}: check caller_label (the pods that call the upstream)"
        )
    return pods


def _pod_stats(kube, namespace: str, pod: str, port: int, path: str, mesh: str) -> str:
    from chaoslitmus.k8s import KubeError

    try:
        return kube.send(
            kube.typed("CoreV1Api").connect_get_namespaced_pod_proxy_with_path,
            f"{pod}:{port}",
            namespace,
            path,
            verb="get",
            group="",
            plural="pods/proxy",
            namespace=namespace,
            name=pod,
            raw=True,
        )
    except KubeError as exc:
        if exc.status == 403:
            raise ActivityFailed(
                f"reading {pod}'s Envoy stats through pods/proxy was refused "
                f"(RBAC: get pods/proxy in {namespace!r}); grant it, or pass "
                "prometheus_url= to read the same counters from Prometheus"
            ) from None
        if exc.status in (502, 503):
            raise ActivityFailed(
                f"nothing answers on {pod}:{port} through pods/proxy (the "
                f"{mesh} sidecar serves its stats on {port}? pass port= and path=)"
            ) from None
        if exc.status == 404:
            raise ActivityFailed(
                f"{pod}:{port}/{path} through pods/proxy: not found (HTTP 404); "
                "check path="
            ) from None
        raise
