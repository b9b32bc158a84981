"""The lab proxy's counters served the way a Linkerd proxy names them.

A Linkerd proxy (2.16+) serves Prometheus metrics on its admin port 4191 at
`/metrics`: `outbound_http_route_retry_{requests,successes,limit_exceeded,
overflow}_total` from the route's retry layer and
`outbound_http_route_request_statuses_total` per final answer
(`http_status`, or `error` such as REQUEST_TIMEOUT), labelled with the
parent Service and the route (docs/mesh-behaviour.md, "Retry statistics on
Linkerd"). The lab keeps one set of counters (Envoy's names, plus the
final answers under FINAL_PREFIX) and renders them here for
`--mesh linkerd`; the route labels are the lab's own.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["FINAL_PREFIX", "FINAL_TIMEOUT", "STATS_PATH", "render"]

STATS_PATH = "metrics"
FINAL_PREFIX = "final_"
FINAL_TIMEOUT = "final_timeout"
RETRY_FAMILIES = {
    "outbound_http_route_retry_requests": "upstream_rq_retry",
    "outbound_http_route_retry_successes": "upstream_rq_retry_success",
    "outbound_http_route_retry_limit_exceeded": "upstream_rq_retry_limit_exceeded",
    "outbound_http_route_retry_overflow": "upstream_rq_retry_overflow",
}
STATUSES = "outbound_http_route_request_statuses"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _labels(namespace: str, service: str, port: int, route: str, **extra: str) -> str:
    pairs = {
        "parent_group": "core",
        "parent_kind": "Service",
        "parent_namespace": namespace,
        "parent_name": service,
        "parent_port": str(port),
        "parent_section_name": "",
        "route_group": "",
        "route_kind": "default",
        "route_namespace": "",
        "route_name": route,
        **extra,
    }
    return ",".join(f'{k}="{_quote(v)}"' for k, v in pairs.items())


def render(
    clusters: Mapping[str, Mapping[str, int]], namespace: str, service: str, port: int
) -> str:
    """Linkerd-named counters for every lab cluster (all lead to `service`)."""
    lines = []
    for family, stat in RETRY_FAMILIES.items():
        lines.append(f"# TYPE {family} counter")
        for name in sorted(clusters):
            labels = _labels(namespace, service, port, name)
            value = int(clusters[name].get(stat, 0))
            lines.append(f"{family}_total{{{labels}}} {value}")
    lines.append(f"# TYPE {STATUSES} counter")
    for name in sorted(clusters):
        for key, value in sorted(clusters[name].items()):
            if key == FINAL_TIMEOUT:
                extra = {"http_status": "", "error": "REQUEST_TIMEOUT"}
            elif key.startswith(FINAL_PREFIX):
                extra = {"http_status": key.removeprefix(FINAL_PREFIX), "error": ""}
            else:
                continue
            labels = _labels(namespace, service, port, name, **extra)
            lines.append(f"{STATUSES}_total{{{labels}}} {int(value)}")
    return "\n".join(lines) + "\n"
