"""Gateway API (GAMMA) and Linkerd objects -> the routes the lab's proxy applies.

Pure, like `routes.py`, whose `route_table` calls these. Each modelled
behaviour names its source; docs/mesh-behaviour.md ("Gateway API HTTPRoute
retries", "Linkerd retries", "The lab's models of the other meshes") has the
facts in full.

Gateway API, an HTTPRoute whose parentRef is the ratings Service:

* `retry.attempts` counts retries after the first try (GEP-1731 conformance);
  unset: 2 (Istio's translation; the API leaves it to the implementation).
* `retry.codes` are retried as exact status codes; connection failures and
  refused streams are always retried (Envoy-based implementations, Istio's
  translation `connect-failure,refused-stream,...`).
* `timeouts.backendRequest` is the per-try timeout; its expiry is retried
  with `implementation="envoy-gateway"` (Gateway API conformance test
  HTTPRouteRetryBackendTimeout, passed by Envoy Gateway) and not with
  `"istio"` (Istio's generated retryOn has none of 5xx/gateway-error/reset).
* `timeouts.request` is the route timeout (all tries); unset: none.
* `retry.backoff` is the back-off base (Istio maps it to Envoy's
  base_interval); default 25 ms, cap 10x.
* No `retry`: Istio applies its mesh default policy; Envoy Gateway, like
  Envoy, no retries (lab choice: the API leaves it open).

Linkerd (2.16+ annotations on the ratings Service, or on an HTTPRoute whose
parent is that Service; the route's retry annotations replace the Service's
as a block, and so do its timeout annotations):

* `retry.linkerd.io/limit` retries (1 when unset or "0" and any retry
  annotation is present); `retry.linkerd.io/http` status ranges (`5xx`,
  `gateway-error`, `NNN`, `NNN-MMM`); per-try timeouts
  (`retry.linkerd.io/timeout`) and refused streams are retried, connection
  errors never (linkerd2-proxy `route/retry.rs`).
* The last allowed try has no per-try timeout (proxy `set_extensions`).
* Every try, retries included, picks its endpoint afresh with no exclusion
  of the one that failed (no previous-hosts predicate in Linkerd). Linkerd
  balances with power-of-two-choices over peak-EWMA latency; the lab picks
  uniformly at random instead (a simplification: it does not learn that a
  pod is slow).
* Back-off: exponential 25 ms to 250 ms with full jitter (policy controller
  `convert_retry`), the same numbers as Envoy's defaults.
* `timeout.linkerd.io/request` is the route timeout. No annotation: no
  retries (Linkerd has no default retry policy).
* A ServiceProfile for the Service overrides all annotations; the lab does
  not model ServiceProfile retries (budgets) and reports it as a problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from chaoslitmus.lab.mesh.envoy import (
    PER_TRY_TIMEOUT_TOKEN,
    Cluster,
    Match,
    RetryPolicy,
    Route,
    RouteTable,
)
from chaoslitmus.lab.mesh.fields import (
    duration_ms,
    int_field,
    meta_of,
    ms_text,
    spec_of,
)

__all__ = [
    "gateway_api_retry",
    "gateway_api_table",
    "linkerd_retry",
    "linkerd_status_codes",
    "linkerd_table",
]

Objects = Mapping[str, Sequence[Mapping[str, Any]]]
GATEWAY_DEFAULT_ATTEMPTS = 2
LINKERD_DEFAULT_LIMIT = 1


_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|d)")
_UNIT_MS = {"h": 3.6e6, "m": 6e4, "s": 1e3, "ms": 1.0, "d": 8.64e7}


def _duration_ms(text: Any) -> float | None:
    """`2s`, `1500ms`, `1m30s` (Gateway API) or `300ms` (Linkerd) in ms."""
    if text == "0":
        return 0.0
    return duration_ms(text, _GO_DURATION, _UNIT_MS)


def _service_parent(route: Mapping[str, Any], service: str) -> bool:
    for ref in spec_of(route).get("parentRefs") or []:
        if (
            isinstance(ref, Mapping)
            and ref.get("kind") == "Service"
            and ref.get("group") in ("", "core", None)
            and ref.get("name") == service
        ):
            return True
    return False


def _routes_for(objects: Objects, service: str) -> list[Mapping[str, Any]]:
    routes = [r for r in objects.get("httproutes", ()) if _service_parent(r, service)]
    return sorted(routes, key=lambda r: str(meta_of(r).get("name")))


def _matches(rule: Mapping[str, Any]) -> list[Match]:
    """HTTPRoute matches; the CRD's default is PathPrefix `/`."""
    out = []
    for item in rule.get("matches") or [{}]:
        if not isinstance(item, Mapping):
            continue
        path = item.get("path") if isinstance(item.get("path"), Mapping) else {}
        value = path.get("value") if isinstance(path.get("value"), str) else "/"
        method = item.get("method") if isinstance(item.get("method"), str) else None
        kind = path.get("type", "PathPrefix")
        if kind == "Exact":
            out.append(Match(prefix=None, exact=value, method=method))
        elif kind == "RegularExpression":
            out.append(Match(prefix=None, regex=value, method=method))
        else:
            out.append(Match(prefix=value, method=method))
    return out or [Match()]


def _clusters(
    rule: Mapping[str, Any], labels_of: Any, fallback: str
) -> tuple[Cluster, ...]:
    refs = [r for r in rule.get("backendRefs") or [] if isinstance(r, Mapping)]
    if not refs:
        return (Cluster.of(fallback, 1, labels_of(fallback)),)
    return tuple(
        Cluster.of(
            str(ref.get("name")),
            1 if int_field(ref.get("weight")) is None else int(ref["weight"]),
            labels_of(str(ref.get("name"))),
        )
        for ref in refs
    )


# ------------------------------------------------------------------ Gateway API


def gateway_api_retry(
    rule: Mapping[str, Any], implementation: str, previous_hosts: bool
) -> RetryPolicy | None:
    """The policy of one rule's `retry` (None: the rule has none)."""
    retry = rule.get("retry")
    if not isinstance(retry, Mapping):
        return None
    attempts = int_field(retry.get("attempts"))
    attempts = GATEWAY_DEFAULT_ATTEMPTS if attempts is None else attempts
    if attempts <= 0:
        return RetryPolicy.none("no retries (attempts=0)")
    codes = frozenset(c for c in retry.get("codes") or [] if int_field(c) is not None)
    retry_on = {"connect-failure", "refused-stream", "retriable-status-codes"}
    if implementation == "envoy-gateway":
        retry_on.add(PER_TRY_TIMEOUT_TOKEN)
    timeouts = rule.get("timeouts") if isinstance(rule.get("timeouts"), Mapping) else {}
    per_try = _duration_ms(timeouts.get("backendRequest")) or None
    base = _duration_ms(retry.get("backoff")) or 25.0
    listed = ",".join(str(c) for c in sorted(codes)) or "no codes"
    timeouts_retried = "retried" if implementation == "envoy-gateway" else "final"
    return RetryPolicy(
        num_retries=attempts,
        retry_on=frozenset(retry_on),
        retriable_status_codes=codes,
        per_try_timeout_ms=per_try,
        previous_hosts=previous_hosts,
        backoff_base_ms=base,
        backoff_max_ms=10 * base,
        summary=(
            f"attempts={attempts} backendRequest={ms_text(per_try)} on {listed} "
            f"(+connect-failure, refused-stream; backendRequest expiry "
            f"{timeouts_retried}: {implementation})"
        ),
    )


def gateway_api_table(
    service: str,
    objects: Objects,
    labels_of: Any,
    previous_hosts: bool,
    implementation: str,
    istio_default: RetryPolicy,
) -> RouteTable | None:
    """Routes from the HTTPRoutes attached to `service` (None: there are none)."""
    attached = _routes_for(objects, service)
    if not attached:
        return None
    routes: list[Route] = []
    for httproute in attached:
        source = f"gateway.networking.k8s.io HTTPRoute {meta_of(httproute).get('name')}"
        for index, rule in enumerate(spec_of(httproute).get("rules") or []):
            if not isinstance(rule, Mapping):
                continue
            retry = gateway_api_retry(rule, implementation, previous_hosts)
            if retry is None:
                retry = (
                    istio_default
                    if implementation == "istio"
                    else RetryPolicy.none("no retries (no retry stanza)")
                )
            timeouts = rule.get("timeouts")
            timeouts = timeouts if isinstance(timeouts, Mapping) else {}
            timeout = _duration_ms(timeouts.get("request")) or None
            if not isinstance(rule.get("retry"), Mapping):
                # Without retry, backendRequest bounds the one backend request.
                backend = _duration_ms(timeouts.get("backendRequest")) or None
                if backend is not None:
                    timeout = min(backend, timeout) if timeout else backend
            name = rule.get("name") if isinstance(rule.get("name"), str) else None
            for match in _matches(rule):
                routes.append(
                    Route(
                        name=name or f"rules[{index}]",
                        match=match,
                        clusters=_clusters(rule, labels_of, service),
                        retry=retry,
                        timeout_ms=timeout,
                        source=source,
                    )
                )
    return RouteTable(tuple(routes))


# ---------------------------------------------------------------------- Linkerd


def linkerd_status_codes(text: Any) -> frozenset[int] | None:
    """`retry.linkerd.io/http` as status codes (None: invalid, ignored)."""
    if not isinstance(text, str):
        return frozenset()
    codes: set[int] = set()
    for token in text.split(","):
        token = token.lower()
        if token == "5xx":
            codes |= set(range(500, 600))
        elif token == "gateway-error":
            codes |= {502, 503, 504}
        elif re.fullmatch(r"\d{3}", token):
            codes.add(int(token))
        elif re.fullmatch(r"\d{3}-\d{3}", token):
            start, end = (int(part) for part in token.split("-"))
            if start > end:
                return None
            codes |= set(range(start, end + 1))
        else:
            return None
    return frozenset(c for c in codes if 100 <= c <= 599)


def _block(obj: Mapping[str, Any], prefix: str) -> dict[str, str]:
    annotations = meta_of(obj).get("annotations") or {}
    return {k: v for k, v in annotations.items() if str(k).startswith(prefix)}


def linkerd_retry(annotations: Mapping[str, str]) -> RetryPolicy:
    """Retry annotations -> the proxy's policy; none present: no retries."""
    if not annotations:
        return RetryPolicy.none("no retries (no retry.linkerd.io annotation)")
    limit_text = annotations.get("retry.linkerd.io/limit", "")
    limit = int(limit_text) if limit_text.isdigit() and int(limit_text) else 0
    limit = limit or LINKERD_DEFAULT_LIMIT
    codes = linkerd_status_codes(annotations.get("retry.linkerd.io/http"))
    if codes is None:
        return RetryPolicy.none("no retries (invalid retry.linkerd.io/http: ignored)")
    per_try = _duration_ms(annotations.get("retry.linkerd.io/timeout")) or None
    retry_on = {"refused-stream", PER_TRY_TIMEOUT_TOKEN}
    if codes:
        retry_on.add("retriable-status-codes")
    http = annotations.get("retry.linkerd.io/http", "no status")
    return RetryPolicy(
        num_retries=limit,
        retry_on=frozenset(retry_on),
        retriable_status_codes=codes,
        per_try_timeout_ms=per_try,
        previous_hosts=False,
        endpoint_choice="random",
        last_try_unbounded=True,
        summary=(
            f"limit={limit} timeout={ms_text(per_try)} (not on the last try) on "
            f"{http}, per-try timeouts, refused streams; any endpoint"
        ),
    )


def linkerd_table(
    service: str, namespace: str, objects: Objects, labels_of: Any
) -> RouteTable | None:
    """Routes for `service` from its annotations and attached HTTPRoutes."""
    svc = next(
        (s for s in objects.get("services", ()) if meta_of(s).get("name") == service),
        None,
    )
    if svc is None:
        return None
    problems = []
    profile = f"{service}.{namespace}.svc.cluster.local"
    if any(
        meta_of(p).get("name") == profile for p in objects.get("serviceprofiles", ())
    ):
        problems.append(
            f"ServiceProfile {profile} overrides the retry annotations in Linkerd; "
            "the lab does not model ServiceProfile retries (none applied)"
        )
    service_retry = _block(svc, "retry.linkerd.io/")
    service_timeouts = _block(svc, "timeout.linkerd.io/")
    attached = _routes_for(objects, service)
    sources: list[tuple[str, Mapping[str, Any] | None, list[Match]]] = [
        (
            f"gateway.networking.k8s.io HTTPRoute {meta_of(r).get('name')}",
            r,
            [m for rule in spec_of(r).get("rules") or [{}] for m in _matches(rule)],
        )
        for r in attached
    ] or [(f"Service {service} annotations", None, [Match()])]
    routes: list[Route] = []
    for source, httproute, matches in sources:
        retry_block = _block(httproute, "retry.linkerd.io/") if httproute else {}
        timeout_block = _block(httproute, "timeout.linkerd.io/") if httproute else {}
        retry_block = retry_block or service_retry
        timeout_block = timeout_block or service_timeouts
        retry = (
            RetryPolicy.none("no retries (ServiceProfile not modelled)")
            if problems
            else linkerd_retry(retry_block)
        )
        timeout = _duration_ms(timeout_block.get("timeout.linkerd.io/request"))
        for match in matches:
            routes.append(
                Route(
                    name=str(meta_of(httproute).get("name")) if httproute else service,
                    match=match,
                    clusters=(Cluster.of(service, 1, labels_of(service)),),
                    retry=retry,
                    timeout_ms=timeout or None,
                    source=source,
                )
            )
    return RouteTable(tuple(routes), problems=tuple(problems))
