"""The mesh proxy on its own: real HTTP on 127.0.0.1, hosts that are dead,
sick (503) or slow, and the policies that decide what callers get.

Each scenario runs on one event loop (`asyncio.run`): ratings servers, the
proxy and the client that calls it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from chaoslitmus.lab.bookinfo.apps import LatencyFaults, ratings_app
from chaoslitmus.lab.mesh.envoy import Cluster, Match, RetryPolicy, Route, RouteTable
from chaoslitmus.lab.mesh.proxy import Host, MeshProxy
from chaoslitmus.lab.mesh.routes import appmesh_default_retry, istio_default_retry
from chaoslitmus.lab.ports import bind_loopback

NS = "bookinfo"
LABELS = {"app": "ratings"}


@dataclass
class Rig:
    proxy: MeshProxy
    faults: LatencyFaults
    url: str
    session: aiohttp.ClientSession

    async def get(
        self, timeout_s: float = 10.0
    ) -> tuple[int, str, dict[str, str], float]:
        started = time.monotonic()
        async with self.session.get(
            f"{self.url}/ratings/0", timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as response:
            text = await response.text()
            return (
                response.status,
                text,
                dict(response.headers),
                time.monotonic() - started,
            )


def sick_app() -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=503, text="overloaded")

    app = web.Application()
    app.router.add_get("/ratings/{id}", answer)
    return app


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    sock = bind_loopback(0)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner, sock.getsockname()[1]


def closed_port() -> int:
    sock = bind_loopback(0)
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connection refused
    return port


@asynccontextmanager
async def rig(
    retry: RetryPolicy,
    hosts: dict[str, str],
    timeout_ms: float | None = None,
) -> AsyncIterator[Rig]:
    """Hosts named `kind-N` where kind is ok, slow, sick or dead; the proxy
    round-robins over them in name order."""
    faults = LatencyFaults(random.Random(1))
    runners: list[web.AppRunner] = []
    upstreams: dict[str, Host] = {}
    for name, kind in hosts.items():
        if kind == "dead":
            upstreams[name] = Host(closed_port(), LABELS)
            continue
        app = sick_app() if kind == "sick" else ratings_app(NS, name, faults, Counter())
        runner, port = await serve(app)
        runners.append(runner)
        upstreams[name] = Host(port, LABELS)
    proxy = MeshProxy(random.Random(2))
    route = Route("r", Match(), (Cluster.of("ratings", 1, LABELS),), retry, timeout_ms)
    proxy.configure(RouteTable((route,)), upstreams)
    proxy_runner, proxy_port = await serve(proxy.app())
    runners.append(proxy_runner)
    try:
        async with aiohttp.ClientSession() as session:
            yield Rig(proxy, faults, f"http://127.0.0.1:{proxy_port}", session)
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def story_retry(**changes: object) -> RetryPolicy:
    """The seed's App Mesh policy (3 retries, 2 s per try, server-error) as Envoy
    sees it, with shorter per-try timeouts where a test needs them."""
    base = dict(
        num_retries=3,
        retry_on=frozenset({"retriable-status-codes", "reset"}),
        retriable_status_codes=frozenset({500, 501, 502, 503, 504}),
        per_try_timeout_ms=2000.0,
        summary="story",
    )
    base.update(changes)
    return RetryPolicy(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------- dead hosts


def test_a_refused_connection_is_retried_on_the_next_host_by_default() -> None:
    async def scenario() -> None:
        hosts = {"a-dead": "dead", "b-ok": "ok"}
        async with rig(appmesh_default_retry(), hosts) as lab:
            status, _, headers, _ = await lab.get()
            assert status == 200
            assert headers["x-lab-upstream-hosts"] == "a-dead,b-ok"
            assert headers["x-envoy-attempt-count"] == "2"
            assert lab.proxy.stats["connect_failures"] == 1

    run(scenario)


def test_without_retries_a_refused_connection_is_a_503() -> None:
    async def scenario() -> None:
        async with rig(RetryPolicy.none(), {"a-dead": "dead", "b-ok": "ok"}) as lab:
            status, text, headers, _ = await lab.get()
            assert status == 503
            assert text.endswith("reset reason: connection failure")
            assert headers["x-envoy-attempt-count"] == "1"

    run(scenario)


# ---------------------------------------------------------------- sick hosts


def test_app_mesh_default_retries_a_503_but_istio_default_does_not() -> None:
    async def scenario() -> None:
        hosts = {"a-sick": "sick", "b-ok": "ok"}
        async with rig(appmesh_default_retry(), hosts) as lab:
            status, _, headers, _ = await lab.get()
            assert (status, headers["x-envoy-attempt-count"]) == (200, "2")
        async with rig(istio_default_retry(), hosts) as lab:
            status, text, headers, _ = await lab.get()
            assert (status, text, headers["x-envoy-attempt-count"]) == (
                503,
                "overloaded",
                "1",
            )

    run(scenario)


def test_when_retries_run_out_the_caller_gets_the_last_upstream_answer() -> None:
    async def scenario() -> None:
        hosts = {"a-sick": "sick", "b-sick": "sick"}
        async with rig(appmesh_default_retry(), hosts) as lab:
            status, text, headers, _ = await lab.get()
            # 1 try + 2 retries, all 503: Envoy passes the last 503 on.
            assert (status, text, headers["x-envoy-attempt-count"]) == (
                503,
                "overloaded",
                "3",
            )

    run(scenario)


# ---------------------------------------------------------------- slow hosts


def test_a_per_try_timeout_is_retried_on_the_other_host() -> None:
    async def scenario() -> None:
        hosts = {"a-slow": "slow", "b-ok": "ok"}
        async with rig(story_retry(per_try_timeout_ms=300.0), hosts) as lab:
            lab.faults.start("f", NS, ["a-slow"], 3000, 0)
            status, _, headers, elapsed = await lab.get()
            assert status == 200
            assert headers["x-lab-upstream-hosts"] == "a-slow,b-ok"
            # 300 ms per try + at most 25 ms back-off; far below the 3 s fault.
            assert 0.3 <= elapsed < 2.0
            assert lab.proxy.stats["per_try_timeouts"] == 1

    run(scenario)


def test_a_per_try_timeout_is_not_retried_under_connect_failure_only() -> None:
    async def scenario() -> None:
        policy = story_retry(
            per_try_timeout_ms=300.0, retry_on=frozenset({"connect-failure"})
        )
        async with rig(policy, {"a-slow": "slow", "b-ok": "ok"}) as lab:
            lab.faults.start("f", NS, ["a-slow"], 3000, 0)
            status, text, headers, _ = await lab.get()
            assert (status, text) == (504, "upstream request timeout")
            assert headers["x-envoy-attempt-count"] == "1"

    run(scenario)


def test_the_route_timeout_covers_every_try_and_answers_504() -> None:
    async def scenario() -> None:
        policy = story_retry(num_retries=5, per_try_timeout_ms=200.0)
        hosts = {"a-slow": "slow", "b-slow": "slow"}
        async with rig(policy, hosts, timeout_ms=500.0) as lab:
            lab.faults.start("f", NS, ["a-slow", "b-slow"], 3000, 0)
            status, text, headers, elapsed = await lab.get()
            assert (status, text) == (504, "upstream request timeout")
            # Tries of 200 ms each + back-off fit at most three in 500 ms.
            assert 1 < int(headers["x-envoy-attempt-count"]) <= 3
            assert 0.5 <= elapsed < 2.5
            assert lab.proxy.stats["route_timeouts"] == 1

    run(scenario)


def test_a_caller_that_gives_up_stops_the_retries() -> None:
    async def scenario() -> None:
        policy = story_retry(num_retries=3, per_try_timeout_ms=600.0)
        hosts = {"a-slow": "slow", "b-slow": "slow"}
        async with rig(policy, hosts) as lab:
            lab.faults.start("f", NS, ["a-slow", "b-slow"], 3000, 0)
            try:
                await lab.get(timeout_s=0.3)
            except asyncio.TimeoutError:
                pass
            else:
                raise AssertionError("the slow hosts answered within 0.3 s")
            # Without cancellation the proxy would go on with a second try at
            # 0.6 s and a third at 1.2 s; wait past both.
            await asyncio.sleep(1.5)
            assert lab.proxy.stats["tries"] == 1
            assert lab.proxy.stats["retries"] == 0

    run(scenario)
