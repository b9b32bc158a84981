"""Envoy's upstream retry counters, kept by the lab's mesh proxy and served
in the Prometheus text format the way Envoy's `/stats/prometheus` does.

Names follow Envoy's cluster statistics (`cluster.<name>.upstream_rq_retry`
and friends; docs/mesh-behaviour.md, "Retry statistics"); Envoy's Prometheus
output turns them into `envoy_cluster_<stat>{envoy_cluster_name="<name>"}`
counters. The lab's cluster names are its own (Istio names clusters
`outbound|9080||ratings.bookinfo.svc.cluster.local`, App Mesh
`cds_egress_<mesh>_<virtual node>_http_9080`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from chaoslitmus.mesh.envoy_stats import COUNTERS

__all__ = [
    "COUNTERS",
    "GATEWAY_API_STATS_PORTS",
    "STATS_PORTS",
    "UpstreamStats",
    "render_prometheus",
    "stats_port",
]

# Envoy's names, as the extension reads them (chaoslitmus.mesh.envoy_stats).
# Where each mesh's sidecar serves its Prometheus stats (Istio: the agent's
# 15090; App Mesh: Envoy's admin port 9901).
# Gateway API: the implementation's Envoy (Istio's sidecars: 15090; Envoy
# Gateway's proxy pods: 19001).
STATS_PORTS = {"istio": 15090, "appmesh": 9901}
GATEWAY_API_STATS_PORTS = {"istio": 15090, "envoy-gateway": 19001}
STATS_PATH = "stats/prometheus"
LINKERD_ADMIN_PORT = 4191


def stats_port(mesh: str, gateway_api_implementation: str) -> int | None:
    """The caller proxy's metrics port the lab serves for one mesh."""
    if mesh == "linkerd":
        return LINKERD_ADMIN_PORT
    if mesh == "gateway-api":
        return GATEWAY_API_STATS_PORTS.get(gateway_api_implementation)
    return STATS_PORTS.get(mesh)


class UpstreamStats:
    """Counters per upstream cluster; written on the proxy's loop only."""

    def __init__(self) -> None:
        self.clusters: dict[str, Counter[str]] = {}

    def inc(self, cluster: str, stat: str, by: int = 1) -> None:
        self.clusters.setdefault(cluster, Counter())[stat] += by

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {name: dict(counts) for name, counts in list(self.clusters.items())}


def render_prometheus(clusters: Mapping[str, Mapping[str, int]]) -> str:
    """Envoy-style Prometheus text: one counter family per statistic."""
    lines = []
    for stat in COUNTERS:
        family = f"envoy_cluster_{stat}"
        lines.append(f"# TYPE {family} counter")
        for name in sorted(clusters):
            label = name.replace("\\", "\\\\").replace('"', '\\"')
            value = int(clusters[name].get(stat, 0))
            lines.append(f'{family}{{envoy_cluster_name="{label}"}} {value}')
    return "\n".join(lines) + "\n"
