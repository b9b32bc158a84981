"""Envoy's upstream retry counters: read them from the callers' sidecars.

Envoy keeps, per upstream cluster, `upstream_rq_total`, `upstream_rq_retry`,
`upstream_rq_retry_success` and friends (docs/mesh-behaviour.md, "Retry
statistics"); its `/stats/prometheus` output names them
`envoy_cluster_<stat>{envoy_cluster_name="<cluster>"}`. Sidecars are reached
through the API server's pods/proxy subresource (Istio: port 15090, App
Mesh: Envoy's admin port 9901), or the same counters are read from a
Prometheus server. Pure parsing and arithmetic here; the I/O is at the
bottom, in two small functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from chaoslib.exceptions import ActivityFailed
from prometheus_client.parser import text_string_to_metric_families

__all__ = [
    "COUNTERS",
    "DEFAULT_STATS",
    "attempts_and_rescued",
    "cluster_counters",
    "deltas",
    "metric_families",
    "sum_matching",
]

COUNTERS = (
    "upstream_rq_total",
    "upstream_rq_retry",
    "upstream_rq_retry_success",
    "upstream_rq_retry_limit_exceeded",
    "upstream_rq_retry_overflow",
    "upstream_rq_per_try_timeout",
    "upstream_rq_timeout",
    "upstream_rq_5xx",
)
# mesh -> (port, path) of the sidecar's Prometheus statistics.
# Gateway API: which Envoy depends on the implementation (Istio's sidecars
# and gateways: 15090; Envoy Gateway's proxy pods: 19001), so no default port.
DEFAULT_STATS = {
    "istio": (15090, "stats/prometheus"),
    "appmesh": (9901, "stats/prometheus"),
    "gateway-api": (0, "stats/prometheus"),
}
CLUSTER_LABEL = "envoy_cluster_name"


def _stat_of(family: str, sample: str) -> str | None:
    """Which Envoy counter a parsed sample is (the parser may drop or add
    a `_total` suffix on counter families)."""
    for stat in COUNTERS:
        full = f"envoy_cluster_{stat}"
        if sample == full or family in (full, full.removesuffix("_total")):
            return stat
    return None


def metric_families(text: str) -> list:
    """Prometheus text format -> metric families (prometheus_client's parser);
    one clear line when the text is not in that format."""
    try:
        return list(text_string_to_metric_families(text))
    except ValueError as exc:
        raise ActivityFailed(
            f"the stats are not in the Prometheus format: {exc}"
        ) from None


def cluster_counters(text: str) -> dict[str, dict[str, float]]:
    """Prometheus text -> {cluster name: {counter: value}} for our counters."""
    families = metric_families(text)
    clusters: dict[str, dict[str, float]] = {}
    for family in families:
        for sample in family.samples:
            stat = _stat_of(family.name, sample.name)
            cluster = sample.labels.get(CLUSTER_LABEL)
            if stat is None or cluster is None:
                continue
            counts = clusters.setdefault(cluster, {})
            counts[stat] = counts.get(stat, 0.0) + float(sample.value)
    return clusters


def sum_matching(
    per_pod: Mapping[str, Mapping[str, Mapping[str, float]]], upstream: str
) -> tuple[dict[str, int], list[str]]:
    """Counters summed over pods for the clusters whose name contains
    `upstream`; and the names of those clusters."""
    totals = dict.fromkeys(COUNTERS, 0)
    matched: set[str] = set()
    for clusters in per_pod.values():
        for name, counts in clusters.items():
            if upstream not in name:
                continue
            matched.add(name)
            for stat in COUNTERS:
                totals[stat] += int(counts.get(stat, 0))
    return totals, sorted(matched)


def deltas(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """after - before per counter; a counter that went down was reset (the
    sidecar restarted): its whole new value counts."""
    out: dict[str, Any] = {}
    for stat in COUNTERS:
        if after.get(stat, 0) is None or before.get(stat, 0) is None:
            out[stat] = None  # a counter this mesh does not keep
            continue
        a, b = int(after.get(stat, 0)), int(before.get(stat, 0))
        out[stat] = a - b if a >= b else a
    return out


def attempts_and_rescued(counts: Mapping[str, int]) -> dict[str, Any]:
    """Retry amplification and rescues from one window's counter deltas.

    Every upstream try counts in `upstream_rq_total`; every try after the
    first is a retry, so requests = tries - retries.
    """
    tries = int(counts.get("upstream_rq_total", 0))
    retries = int(counts.get("upstream_rq_retry", 0))
    requests = tries - retries
    return {
        "requests": max(requests, 0),
        "attempts_per_request": round(tries / requests, 3) if requests > 0 else None,
        "rescued": int(counts.get("upstream_rq_retry_success", 0)),
    }


def _literal(text: str) -> str:
    """`text` matched literally in a PromQL regex inside a double-quoted string
    (regex metacharacters escaped, then the backslashes doubled)."""
    escaped = re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)
    return escaped.replace("\\", "\\\\").replace('"', '\\"')


# --- I/O -----------------------------------------------------------------------


def prometheus_query(
    url: str, namespace: str, pods: Iterable[str], upstream: str, timeout_s: float
) -> dict[str, int]:
    """The same counters from a Prometheus server (HTTP API `query`), summed
    over the caller pods (`namespace`/`pod` labels, as the usual Kubernetes
    scrape configurations set them)."""
    import requests  # a core dependency; imported here to keep imports light

    pod_re = "|".join(_literal(p) for p in pods)
    totals = dict.fromkeys(COUNTERS, 0)
    for stat in COUNTERS:
        query = (
            f'sum(envoy_cluster_{stat}{{namespace="{namespace}",pod=~"{pod_re}",'
            f'{CLUSTER_LABEL}=~".*{_literal(upstream)}.*"}})'
        )
        try:
            response = requests.get(
                f"{url.rstrip('/')}/api/v1/query",
                params={"query": query},
                timeout=timeout_s,
            )
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise ActivityFailed(
                f"Prometheus at {url} did not answer the query for {stat}: {exc}"
            ) from None
        if response.status_code != 200 or body.get("status") != "success":
            raise ActivityFailed(
                f"Prometheus at {url} refused the query for {stat}: HTTP "
                f"{response.status_code} {body.get('error', '')}".rstrip()
            )
        for item in (body.get("data") or {}).get("result") or []:
            totals[stat] += int(float((item.get("value") or [0, "0"])[1]))
    return totals
