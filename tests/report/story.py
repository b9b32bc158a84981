"""The BookInfo story for report tests, served for real (ten times faster).

``StoryServer`` plays reviews-v3 behind a mesh on 127.0.0.1: requests
alternate between two ratings replicas; while the lab's Litmus operator has
a latency fault on (this server is its fault sink), one replica is slow.
Without retries reviews gives up after ``REVIEWS_TIMEOUT_MS`` and answers
500; with ``retries`` on, the slow try is cut after ``PER_TRY_TIMEOUT_MS``
and retried on the healthy replica, so callers get a slower 200.
"""

from __future__ import annotations

import asyncio
import socket
import threading

from aiohttp import web

REVIEWS_TIMEOUT_MS = 250
PER_TRY_TIMEOUT_MS = 150
HEALTHY_MS = 5


class StoryServer:
    """reviews -> ratings x2 with an optional retry policy; a Litmus FaultSink."""

    def __init__(
        self,
        reviews_timeout_ms: float = REVIEWS_TIMEOUT_MS,
        per_try_timeout_ms: float = PER_TRY_TIMEOUT_MS,
    ) -> None:
        self.reviews_timeout_ms = reviews_timeout_ms
        self.per_try_timeout_ms = per_try_timeout_ms
        self.loop = asyncio.new_event_loop()
        self.retries = False
        self.faults: dict[str, int] = {}  # fault id -> added latency (ms)
        self.calls = 0
        self.broken = False  # /health drops connections (a probe then raises)
        self._runner: web.AppRunner | None = None
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.url = f"{self.base}/reviews/0"
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    # FaultSink, called by the lab's Litmus operator
    def start_latency(
        self,
        fault_id: str,
        namespace: str,
        pod_names: list[str],
        latency_ms: int,
        jitter_ms: int,
    ) -> None:
        self.faults[fault_id] = latency_ms

    def stop(self, fault_id: str) -> None:
        self.faults.pop(fault_id, None)

    def start(self) -> StoryServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result(10)
        return self

    def close(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(
                10
            )
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    async def _serve(self) -> None:
        app = web.Application()
        app.add_routes(
            [
                web.get("/reviews/{id}", self._reviews),
                web.get("/health", self._health),
                web.post("/admin/break", self._break),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    async def _reviews(self, request: web.Request) -> web.Response:
        self.calls += 1
        slow_replica = self.calls % 2 == 0 and bool(self.faults)
        if not slow_replica:
            await asyncio.sleep(HEALTHY_MS / 1000)
            return web.json_response({"id": 0, "ratings": {"Reviewer1": 5}})
        delay_ms = HEALTHY_MS + max(self.faults.values())
        if self.retries and delay_ms > self.per_try_timeout_ms:
            # The mesh cuts the slow try and retries on the healthy replica.
            await asyncio.sleep((self.per_try_timeout_ms + HEALTHY_MS) / 1000)
            return web.json_response({"id": 0, "ratings": {"Reviewer1": 5}})
        if delay_ms > self.reviews_timeout_ms:
            await asyncio.sleep(self.reviews_timeout_ms / 1000)
            return web.json_response({"error": "ratings timed out"}, status=500)
        await asyncio.sleep(delay_ms / 1000)
        return web.json_response({"id": 0, "ratings": {"Reviewer1": 5}})

    async def _health(self, request: web.Request) -> web.Response:
        if self.broken:
            assert request.transport is not None
            request.transport.abort()  # no response at all: the client raises
            raise asyncio.CancelledError
        return web.Response(text="ok")

    async def _break(self, request: web.Request) -> web.Response:
        self.broken = True
        return web.Response(text="broken")
