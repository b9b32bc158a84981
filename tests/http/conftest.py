"""A real HTTP server on 127.0.0.1 for the sampler tests, with faults on demand.

It runs on its own event loop thread in the test process, binds a free port
and counts what it receives, so tests can assert both what the probe
reported and what really reached the server.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web


class FaultyServer:
    """aiohttp app whose routes answer late, fail, reset or stall."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.hits = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.peers: set[tuple[str, int]] = set()
        self.echoed: list[dict] = []
        self.every_counter = 0
        self.stall_from = 0.0
        self.stall_until = 0.0
        self._runner: web.AppRunner | None = None
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result(10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(
                10
            )
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def reset_counters(self) -> None:
        self.hits = self.max_in_flight = self.every_counter = 0
        self.peers.clear()
        self.echoed.clear()

    async def _serve(self) -> None:
        app = web.Application(middlewares=[self._count])
        app.add_routes(
            [
                web.route("*", "/ok", self._ok),
                web.get("/delay/{ms}", self._delay),
                web.get("/status/{code}", self._status),
                web.get("/every/{n}/status/{code}", self._every),
                web.get("/every/{n}/degraded", self._every_degraded),
                web.get("/stall", self._stall),
                web.post("/admin/stall", self._set_stall),
                web.get("/reset", self._reset),
                web.get("/slowbody/{chunks}/{gap_ms}", self._slow_body),
                web.route("*", "/echo", self._echo),
                web.get("/redirect", self._redirect),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    @web.middleware
    async def _count(self, request: web.Request, handler):  # noqa: ANN001
        if not request.path.startswith("/admin"):
            self.hits += 1
            peer = (
                request.transport.get_extra_info("peername")
                if request.transport
                else None
            )
            if peer:
                self.peers.add(tuple(peer[:2]))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1

    async def _ok(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _delay(self, request: web.Request) -> web.Response:
        await asyncio.sleep(int(request.match_info["ms"]) / 1000)
        return web.Response(text="late")

    async def _status(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="as asked")

    async def _every(self, request: web.Request) -> web.Response:
        self.every_counter += 1
        if self.every_counter % int(request.match_info["n"]) == 0:
            return web.Response(status=int(request.match_info["code"]), text="fault")
        return web.Response(text="ok")

    async def _every_degraded(self, request: web.Request) -> web.Response:
        # Like a BookInfo reviews that lost its ratings: still a 200.
        self.every_counter += 1
        if self.every_counter % int(request.match_info["n"]) == 0:
            entry = {"error": "Ratings service is currently unavailable"}
        else:
            entry = {"stars": 5, "color": "red"}
        return web.json_response({"reviews": [{"rating": entry}]})

    async def _stall(self, request: web.Request) -> web.Response:
        now = self.loop.time()
        if self.stall_from <= now < self.stall_until:
            await asyncio.sleep(self.stall_until - now)
        return web.Response(text="ok")

    async def _set_stall(self, request: web.Request) -> web.Response:
        after_s = float(request.query.get("after_s", "0"))
        seconds = float(request.query["seconds"])
        self.stall_from = self.loop.time() + after_s
        self.stall_until = self.stall_from + seconds
        return web.json_response({"stall_s": seconds, "after_s": after_s})

    async def _reset(self, request: web.Request) -> web.Response:
        # SO_LINGER 0 makes close() send RST: the client sees a reset, not EOF.
        transport = request.transport
        assert transport is not None
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        raise asyncio.CancelledError

    async def _slow_body(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(int(request.match_info["chunks"])):
            await asyncio.sleep(int(request.match_info["gap_ms"]) / 1000)
            await response.write(b"x" * 1024)
        await response.write_eof()
        return response

    async def _echo(self, request: web.Request) -> web.Response:
        seen = {
            "method": request.method,
            "headers": dict(request.headers),
            "body": await request.text(),
        }
        self.echoed.append(seen)
        return web.Response(text=json.dumps(seen), content_type="application/json")

    async def _redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")


@pytest.fixture(scope="module")
def server() -> Iterator[FaultyServer]:
    """One faulty server per test module; counters reset for every test."""
    lab = FaultyServer()
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def fresh(server: FaultyServer) -> FaultyServer:
    server.reset_counters()
    server.stall_from = server.stall_until = 0.0
    return server


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
