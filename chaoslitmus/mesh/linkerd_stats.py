"""Linkerd's retry counters, read in the same vocabulary as Envoy's.

A Linkerd proxy (2.16+) serves Prometheus metrics on its admin port 4191 at
`/metrics`; the route-level retry layer keeps `outbound_http_route_retry_*`
counters and the route's logical requests are counted, by final status, in
`outbound_http_route_request_statuses_total` (docs/mesh-behaviour.md,
"Retry statistics on Linkerd"). Each sample is labelled with the parent
(the Service) and the route; we key them "<namespace>/<parent>:<port>
<route kind>/<route>" and map them onto Envoy's names where the meaning
matches. Pure parsing here; the I/O is the shared pods/proxy read.
"""

from __future__ import annotations

from collections.abc import Mapping

from chaoslitmus.mesh.envoy_stats import metric_families

__all__ = ["DEFAULT_STATS", "NOT_COUNTED", "RETRY_COUNTERS", "route_counters"]

DEFAULT_STATS = (4191, "metrics")
# Linkerd counter -> our (Envoy) name; same meaning.
RETRY_COUNTERS = {
    "outbound_http_route_retry_requests": "upstream_rq_retry",
    "outbound_http_route_retry_successes": "upstream_rq_retry_success",
    "outbound_http_route_retry_limit_exceeded": "upstream_rq_retry_limit_exceeded",
    "outbound_http_route_retry_overflow": "upstream_rq_retry_overflow",
}
STATUSES = "outbound_http_route_request_statuses"
# Errors Linkerd labels a request with when its whole-request timeout hit.
TIMEOUT_ERRORS = ("REQUEST_TIMEOUT",)
# Our keys with no Linkerd counter (reported as null).
NOT_COUNTED = ("upstream_rq_per_try_timeout",)


def _name(sample: str) -> str:
    return sample.removesuffix("_total")


def _key(labels: Mapping[str, str]) -> str | None:
    parent = labels.get("parent_name")
    if not parent:
        return None
    route = f"{labels.get('route_kind') or 'default'}/{labels.get('route_name') or '-'}"
    where = (
        f"{labels.get('parent_namespace', '')}/{parent}:{labels.get('parent_port', '')}"
    )
    return f"{where} {route}"


def route_counters(text: str) -> dict[str, dict[str, float]]:
    """Prometheus text -> {parent+route key: {our counter: value}}.

    `upstream_rq_total` is derived (requests finished + retries), since
    Linkerd counts the caller's requests and the retries, not every try;
    `upstream_rq_5xx` and `upstream_rq_timeout` count final answers to the
    caller (Envoy counts 5xx per try).
    """
    families = metric_families(text)
    routes: dict[str, dict[str, float]] = {}
    for family in families:
        for sample in family.samples:
            name = _name(sample.name)
            key = _key(sample.labels)
            if key is None or (name not in RETRY_COUNTERS and name != STATUSES):
                continue
            counts = routes.setdefault(key, {})
            value = float(sample.value)
            if name in RETRY_COUNTERS:
                stat = RETRY_COUNTERS[name]
                counts[stat] = counts.get(stat, 0.0) + value
                continue
            counts["requests"] = counts.get("requests", 0.0) + value
            if (sample.labels.get("http_status") or "").startswith("5"):
                counts["upstream_rq_5xx"] = counts.get("upstream_rq_5xx", 0.0) + value
            if sample.labels.get("error") in TIMEOUT_ERRORS:
                counts["upstream_rq_timeout"] = (
                    counts.get("upstream_rq_timeout", 0.0) + value
                )
    for counts in routes.values():
        counts["upstream_rq_total"] = counts.pop("requests", 0.0) + counts.get(
            "upstream_rq_retry", 0.0
        )
    return routes
