"""The HTTP I/O of the probes: an aiohttp client on a private event loop.

Why aiohttp on its own loop thread, and not requests with a thread pool
(measured by ``benchmarks/traffic.py clients`` on the 2-core box, server in
another process answering after 50 ms, 10 s per run, both clients open-loop
with latency from the due time; CPU is the client process's):

    load                  client                 per s   p50 ms  p99 ms  CPU ms/req
    200 req/s             aiohttp loop           199.99   52.0    53.9    1.2
                          requests, 64 threads   200.0    54.0    57.9    2.7
    500 req/s             aiohttp loop           499.99   51.3    53.7    0.7
                          requests, 64 threads   500.0   119.9   302.6    2.1
    200 req/s, 3 s stall  aiohttp loop           200.0    52.2  2974.4    1.3
                          requests, 64 threads   200.0    54.3  3002.6    2.2
                          requests, 1000 threads 200.0    53.9  3261.3    2.7

The loop used about half the CPU per request. At 500 req/s the pool's
figures swung between runs (p50 53, 120 and 940 ms in three runs; one run
reached only 455 req/s) while the loop's stayed at 51-54 ms: the pool's
threads fight for the GIL and their queue becomes part of the measurement.
Through the stall the loop's p99 is the stall itself (~3.0 s); 64 threads
queue the requests due during it (29% of requests over 1 s against 21%),
and 1000 threads add ~290 ms of contention to the p99.

An open-loop sender must keep many requests outstanding while a server
stalls: at 200 req/s a 3 s stall means 600 concurrent requests. One event
loop holds them as cheap tasks on one thread; a thread pool needs one thread
per outstanding request, and a smaller pool turns the stall into a queue in
the *sender*, which delays sends and spends the GIL the schedule needs.
aiohttp is already installed with kubernetes >= 36, so it adds nothing.

The loop runs in a thread of its own so the probes work wherever they are
called from: chaoslib's worker threads, the main thread, or code that
already runs an event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import aiohttp

from chaoslitmus.http._plan import Plan, RequestSpec
from chaoslitmus.http._schedule import due_until
from chaoslitmus.http.stats import Outcome

__all__ = ["Sampled", "classify_error", "run_in_private_loop", "sample", "send_once"]

T = TypeVar("T")

USER_AGENT = "chaostoolkit-litmus (measure_endpoint)"
_CHUNK = 65_536
# epoll waits in whole milliseconds, rounded up, so a sleep until the due
# time wakes ~1 ms late. Waking up to 1 ms early instead keeps requests on
# time; one that leaves early is timed from when it left, never from before.
_EARLY_S = 0.001
# How often a long wait between two requests looks at the stop flag.
_STOP_POLL_S = 0.25


@dataclass(frozen=True)
class Sampled:
    """What one open-loop run produced, before any statistics."""

    outcomes: list[Outcome]
    started_at: datetime
    elapsed_s: float
    error_examples: dict[str, str]
    cut_short: bool = False


def run_in_private_loop(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a fresh event loop in a thread of its own, and wait."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = asyncio.run(factory())
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="chaoslitmus-http", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


def classify_error(exc: BaseException) -> str:
    """Name why a request got no status, as one of stats.ERROR_KINDS."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)):
        return "tls"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connection"
    if isinstance(
        exc,
        (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, ConnectionError),
    ):
        return "reset"
    if isinstance(exc, aiohttp.ClientOSError):
        return "reset"
    if isinstance(exc, aiohttp.ClientResponseError):
        return "protocol"
    return "other"


def _session(request: RequestSpec, limit: int) -> aiohttp.ClientSession:
    """A keep-alive pool sized to the in-flight limit.

    Cookies are not kept and bodies are not decompressed: every request of a
    measurement is the same request, and the client does no work it need not.
    """
    connector = aiohttp.TCPConnector(
        limit=limit,
        limit_per_host=0,
        ssl=request.verify_tls,
        keepalive_timeout=30,
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        headers={"User-Agent": USER_AGENT},
    )


async def _send(
    session: aiohttp.ClientSession, request: RequestSpec, timeout_s: float
) -> tuple[int | None, str | None, str]:
    """Send one request and read the whole body: (status, error kind, detail)."""
    try:
        async with session.request(
            request.method,
            request.url,
            headers=dict(request.headers),
            data=request.body,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=max(timeout_s, 0.001)),
        ) as response:
            async for _ in response.content.iter_chunked(_CHUNK):
                pass
            return response.status, None, ""
    except Exception as exc:  # every failure is a measured outcome
        return None, classify_error(exc), _detail(exc)


def _detail(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


async def send_once(request: RequestSpec) -> tuple[int | None, str | None, str, float]:
    """One request on a fresh connection: (status, error, detail, latency ms)."""
    loop = asyncio.get_running_loop()
    async with _session(request, 1) as session:
        began = loop.time()
        status, error, detail = await _send(session, request, request.timeout_s)
        return status, error, detail, (loop.time() - began) * 1000.0


class _Slots:
    """Counts requests in flight against the limit; a refused request can wait
    for the next one to finish, to learn how long it would have queued."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._freed = asyncio.Event()

    def take(self) -> bool:
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    def give_back(self) -> None:
        self.used -= 1
        self._freed.set()
        self._freed = asyncio.Event()

    async def wait_freed(self, timeout_s: float) -> None:
        freed = self._freed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(freed.wait(), max(timeout_s, 0.0))


async def sample(
    plan: Plan, offsets: Sequence[float], stop: threading.Event | None = None
) -> Sampled:
    """Send one request per due offset, never waiting for earlier answers.

    A request due while ``max_in_flight`` requests are outstanding is not
    sent: it is an "overflow" error whose latency is the time from its due
    time until a slot came free (or its timeout passed), so the queue a
    caller would have met is measured, and no late burst hits the server
    when a stall ends. Latency runs from the due time, or from the real send
    if that was earlier (by at most _EARLY_S), so it is never understated.
    Once ``stop`` is set no further request leaves; those in flight finish
    and the result says ``cut_short``.
    """
    loop = asyncio.get_running_loop()
    outcomes: list[Outcome | None] = [None] * len(offsets)
    examples: dict[str, str] = {}
    slots = _Slots(plan.max_in_flight)
    pending: set[asyncio.Task[None]] = set()
    timeout_s = plan.request.timeout_s

    async with _session(plan.request, plan.max_in_flight) as session:
        started_at = datetime.now(timezone.utc)
        start = loop.time()

        async def one(index: int) -> None:
            due = start + offsets[index]
            deadline = due + timeout_s
            if not slots.take():
                await slots.wait_freed(deadline - loop.time())
                waited_ms = (loop.time() - due) * 1000.0
                outcomes[index] = Outcome(
                    offsets[index], None, None, "overflow", waited_ms
                )
                examples.setdefault(
                    "overflow",
                    f"{plan.max_in_flight} requests in flight; raise max_in_flight",
                )
                return
            sent = loop.time()
            try:
                status, error, detail = await _send(
                    session, plan.request, deadline - sent
                )
                done = loop.time()
            finally:
                slots.give_back()
            if error is not None:
                examples.setdefault(error, detail)
            outcomes[index] = Outcome(
                offsets[index],
                sent - start,
                status,
                error,
                (done - max(due, sent)) * 1000.0,
            )

        index = 0
        cut_short = False
        while index < len(offsets):
            if stop is not None and stop.is_set():
                cut_short = True
                break
            wait_s = start + offsets[index] - loop.time() - _EARLY_S
            if stop is not None and wait_s > _STOP_POLL_S:
                await asyncio.sleep(_STOP_POLL_S)
                continue
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            now_s = loop.time() - start + _EARLY_S
            last = max(due_until(offsets, index, now_s), index + 1)
            for i in range(index, last):
                task = loop.create_task(one(i))
                pending.add(task)
                task.add_done_callback(pending.discard)
            index = last
        if pending:
            await asyncio.wait(set(pending))
        elapsed_s = loop.time() - start

    return Sampled(
        [o for o in outcomes if o is not None],
        started_at,
        elapsed_s,
        examples,
        cut_short,
    )
