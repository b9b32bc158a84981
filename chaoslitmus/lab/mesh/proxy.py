"""The lab's mesh proxy: reviews' sidecar route to ratings, Envoy style.

A real HTTP proxy on 127.0.0.1. Each request takes the first matching route,
a weighted cluster for its first try (retries stay in that cluster), then
tries hosts (discovery, balancing, pooled connections and netem delays from
`upstreams.py`) with the route's per-try timeout, retrying only the
outcomes the route's `retry_on` names, with full-jitter back-off, all under
the route timeout (expiry: 504). Every decision comes from `envoy.py`; this
module only does the I/O. If the caller goes away, the request is abandoned
and nothing more is retried (aiohttp cancels the handler, as Envoy resets the
upstream stream when the downstream disconnects).

Response headers: `x-envoy-attempt-count` (tries made, as Envoy's
`include_attempt_count_in_response`), `x-envoy-upstream-service-time` and
`x-lab-upstream-hosts` (the pods tried, in order; lab only).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from chaoslitmus.lab.mesh.discovery import Connection
from chaoslitmus.lab.mesh.envoy import (
    Cluster,
    Outcome,
    OutcomeKind,
    Route,
    RouteTable,
    backoff_ms,
    choose_cluster,
    endpoints,
    final_reply,
    should_retry,
)
from chaoslitmus.lab.mesh.envoy_stats import UpstreamStats
from chaoslitmus.lab.mesh.linkerd_stats import FINAL_PREFIX, FINAL_TIMEOUT
from chaoslitmus.lab.mesh.netem import PEER_HEADER
from chaoslitmus.lab.mesh.upstreams import Upstreams

__all__ = ["Host", "MeshProxy"]

_FORWARDED_HEADERS = ("Accept", "Content-Type", "User-Agent", "X-Request-Id")


@dataclass(frozen=True)
class Host:
    """A serving upstream: its loopback port and its pod's labels."""

    port: int
    labels: Mapping[str, str]


@dataclass
class _Answer:
    status: int
    body: bytes
    content_type: str


class MeshProxy:
    """Routes requests to the ratings pods; reconfigured live by `configure`.

    Runs on one event loop; `configure` must be called on that loop.
    """

    def __init__(
        self,
        rng: random.Random,
        upstream_host: str = "127.0.0.1",
        upstreams: Upstreams | None = None,
    ) -> None:
        self.rng = rng
        self.upstream_host = upstream_host
        self.table = RouteTable()
        self.hosts: dict[str, Host] = {}
        self.stats: Counter[str] = Counter()
        self.upstreams = upstreams or Upstreams(random.Random(rng.getrandbits(64)))
        self.upstream = UpstreamStats()  # Envoy's names, per upstream cluster
        self._session: aiohttp.ClientSession | None = None

    def configure(self, table: RouteTable, hosts: Mapping[str, Host]) -> None:
        """New routes and endpoints (like an xDS push); in-flight tries continue."""
        self.table = table
        self.hosts = dict(hosts)
        for route in table.routes:  # Envoy lists a configured cluster at zero
            for cluster in route.clusters:
                self.upstream.clusters.setdefault(cluster.name, Counter())

    def drop_host(self, pod: str) -> None:
        """Forget a host at once (its server is closing)."""
        self.hosts.pop(pod, None)

    def app(self) -> web.Application:
        async def session_context(app: web.Application):  # type: ignore[no-untyped-def]
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as session:
                self._session = session
                yield
                self._session = None

        app = web.Application()
        app.cleanup_ctx.append(session_context)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # ------------------------------------------------------------------ request

    async def handle(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        self.stats["requests"] += 1
        route = self.table.match(request.path, request.method)
        if route is None:
            self.stats["no_route"] += 1
            return _reply(404, b"no route", "text/plain", [], started)
        cluster = choose_cluster(route.clusters, self.rng)
        if cluster is None:
            self.stats["no_healthy_upstream"] += 1
            return _reply(503, b"no healthy upstream", "text/plain", [], started)
        body = await request.read()
        tried: list[str] = []
        attempts = self._attempts(route, cluster, request, body, tried)
        try:
            if route.timeout_ms is None:
                answer = await attempts
            else:
                answer = await asyncio.wait_for(attempts, route.timeout_ms / 1000.0)
        except asyncio.TimeoutError:
            self.stats["route_timeouts"] += 1
            self.upstream.inc(cluster.name, "upstream_rq_timeout")
            self.upstream.inc(cluster.name, FINAL_TIMEOUT)
            answer = _Answer(504, b"upstream request timeout", "text/plain")
        else:
            self.upstream.inc(cluster.name, f"{FINAL_PREFIX}{answer.status}")
        return _reply(answer.status, answer.body, answer.content_type, tried, started)

    async def _attempts(
        self,
        route: Route,
        cluster: Cluster,
        request: web.Request,
        body: bytes,
        tried: list[str],
    ) -> _Answer:
        policy = route.retry
        retries = 0
        tried_hosts: list[str] = []
        while True:
            pods = endpoints(
                cluster, {name: h.labels for name, h in self.hosts.items()}
            )
            host = self.upstreams.pick(
                cluster.name,
                pods,
                tried_hosts,
                policy.previous_hosts and retries > 0,
                policy.host_selection_max_attempts,
                random_choice=policy.endpoint_choice == "random",
            )
            if host is None:
                self.stats["no_healthy_upstream"] += 1
                return _Answer(503, b"no healthy upstream", "text/plain")
            tried_hosts.append(host)
            last = policy.last_try_unbounded and retries >= policy.num_retries
            per_try = None if last else policy.per_try_timeout_ms
            outcome, answer = await self._try(
                host, pods, request, body, per_try, tried, cluster
            )
            self._count_try(cluster.name, outcome)
            retriable = should_retry(outcome, policy)
            if retries < policy.num_retries and retriable:
                retries += 1
                self.stats["retries"] += 1
                self.upstream.inc(cluster.name, "upstream_rq_retry")
                await asyncio.sleep(backoff_ms(retries, policy, self.rng) / 1000.0)
                continue
            if retriable and policy.num_retries > 0:
                self.upstream.inc(cluster.name, "upstream_rq_retry_limit_exceeded")
            elif retries > 0 and not retriable:
                self.upstream.inc(cluster.name, "upstream_rq_retry_success")
            if answer is not None:
                return answer
            status, text = final_reply(outcome)
            return _Answer(status, text.encode(), "text/plain")

    def _count_try(self, cluster: str, outcome: Outcome) -> None:
        """Envoy's per-try outcome counters: a per-try timeout is charged as a
        504. (`upstream_rq_total` counts when the try is sent, in `_send`.)"""
        if outcome.kind is OutcomeKind.PER_TRY_TIMEOUT:
            self.upstream.inc(cluster, "upstream_rq_per_try_timeout")
            self.upstream.inc(cluster, "upstream_rq_5xx")
        elif outcome.kind is OutcomeKind.RESPONSE and (outcome.status or 0) >= 500:
            self.upstream.inc(cluster, "upstream_rq_5xx")

    async def _try(
        self,
        envoy_host: str,
        pods: list[str],
        request: web.Request,
        body: bytes,
        per_try_timeout_ms: float | None,
        tried: list[str],
        cluster: Cluster,
    ) -> tuple[Outcome, _Answer | None]:
        upstreams = self.upstreams
        upstreams.active[envoy_host] += 1
        try:
            connection, set_up_ms = upstreams.connection(envoy_host, pods)
            if set_up_ms > 0:  # before the per-try timer: Envoy's onPoolReady
                self.stats["slow_connection_set_ups"] += 1
                await _set_up(connection, set_up_ms, upstreams)
            pod = connection.pod
            if pod in tried:
                self.stats["retries_to_a_tried_host"] += 1
            tried.append(pod)
            outcome, answer = await self._send(
                pod, request, body, per_try_timeout_ms, len(tried), cluster
            )
        finally:
            upstreams.active[envoy_host] -= 1
        if outcome.kind is OutcomeKind.RESPONSE:
            upstreams.pool.release(connection)  # else reset: never reused
        return outcome, answer

    async def _send(
        self,
        pod: str,
        request: web.Request,
        body: bytes,
        per_try_timeout_ms: float | None,
        attempt: int,
        cluster: Cluster,
    ) -> tuple[Outcome, _Answer | None]:
        host = self.hosts.get(pod)
        if host is None or self._session is None:  # gone since it was picked
            self.stats["connect_failures"] += 1
            return Outcome(OutcomeKind.CONNECT_FAILURE), None
        self.stats["tries"] += 1
        self.upstream.inc(cluster.name, "upstream_rq_total")  # sent upstream
        url = f"http://{self.upstream_host}:{host.port}{request.path_qs}"
        headers = {
            k: request.headers[k] for k in _FORWARDED_HEADERS if k in request.headers
        }
        headers["x-envoy-attempt-count"] = str(attempt)
        app, caller = self.upstreams.caller()
        if caller:
            headers[PEER_HEADER] = f"{app}/{caller}"
        fetch = self._fetch(
            request.method,
            url,
            headers,
            body,
            self.upstreams.outbound_ms(pod) / 1000.0,
        )
        try:
            if per_try_timeout_ms is None:
                answer = await fetch
            else:
                answer = await asyncio.wait_for(fetch, per_try_timeout_ms / 1000.0)
        except asyncio.TimeoutError:
            self.stats["per_try_timeouts"] += 1
            return Outcome(OutcomeKind.PER_TRY_TIMEOUT), None
        except aiohttp.ClientConnectorError:
            self.stats["connect_failures"] += 1
            return Outcome(OutcomeKind.CONNECT_FAILURE), None
        except (aiohttp.ClientError, ConnectionError):
            self.stats["resets"] += 1
            return Outcome(OutcomeKind.RESET), None
        return Outcome.response(answer.status), answer

    async def _fetch(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes,
        outbound_delay_s: float = 0.0,
    ) -> _Answer:
        assert self._session is not None
        if outbound_delay_s > 0:  # the caller's own netem: inside the per-try timer
            await asyncio.sleep(outbound_delay_s)
        async with self._session.request(
            method,
            url,
            headers=headers,
            data=body or None,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=None),
        ) as response:
            data = await response.read()
            return _Answer(response.status, data, response.content_type)


async def _set_up(connection: Connection, ms: float, upstreams: Upstreams) -> None:
    """Wait for a slow connection; if the request goes away meanwhile, the
    connection still completes and joins the pool (discovery.py)."""
    ready = asyncio.ensure_future(asyncio.sleep(ms / 1000.0))
    try:
        await asyncio.shield(ready)
    except asyncio.CancelledError:
        ready.add_done_callback(lambda _: upstreams.pool.release(connection, 0))
        raise


def _reply(
    status: int, body: bytes, content_type: str, tried: list[str], started: float
) -> web.Response:
    elapsed_ms = int((time.monotonic() - started) * 1000)
    return web.Response(
        status=status,
        body=body,
        content_type=content_type,
        headers={
            "x-envoy-attempt-count": str(len(tried)),
            "x-envoy-upstream-service-time": str(elapsed_ms),
            "x-lab-upstream-hosts": ",".join(tried),
        },
    )
