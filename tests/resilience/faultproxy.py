"""A fault-injecting HTTP proxy on 127.0.0.1, in front of the lab's API server.

Raw asyncio, one request per client connection (answers carry ``Connection:
close``), so each fault hits exactly one request. A seeded rng picks, for a
``rate`` share of requests, one fault among ``kinds``:

- ``500`` / ``503``: an apiserver-style Status error, either *before* the
  request reaches the server (``-before``) or *after* the server did the work
  (``-after``: the answer is lost, the write happened);
- ``reset``: the connection is reset (TCP RST), before or after forwarding;
- ``stall``: the request waits ``stall_s`` before it is forwarded;
- ``drop``: the answer is cut mid-way (a watch stream ends after a moment, a
  plain answer after half its bytes) with a reset.

Watches cannot lose their answer "after" (they never end on their own), so
their ``-after`` faults happen before. :meth:`FaultProxy.force` queues exact
faults, in order, for matching requests, ahead of the random ones, for tests
that need precise failures. Every request is recorded with the fault it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

__all__ = ["FAULTS", "KINDS", "FaultProxy", "Record"]

KINDS = ("500", "503", "reset", "stall", "drop")
FAULTS = (
    "500-before",
    "500-after",
    "503-before",
    "503-after",
    "reset-before",
    "reset-after",
    "stall",
    "drop",
)
_HOP = {"connection", "keep-alive", "proxy-connection", "te", "upgrade"}
_REASONS = {500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class Record:
    """One request as the proxy saw it: the fault it got, the status sent back."""

    method: str
    path: str
    watch: bool
    fault: str = ""
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass
class _Forced:
    fault: str
    method: str | None
    fragment: str
    left: int


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), like a crashed peer or a middlebox."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
    writer.transport.abort()


def _status_of(head: bytes) -> int:
    try:
        return int(head.split(b"\r\n", 1)[0].split(b" ")[1])
    except (IndexError, ValueError):
        return 0


class FaultProxy:
    """The proxy in its own thread and event loop; a context manager."""

    def __init__(
        self,
        upstream: str,
        rate: float = 0.2,
        seed: int = 0,
        kinds: Sequence[str] = KINDS,
        stall_s: float = 2.0,
        eligible: Callable[[str, str], bool] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        echo_headers: bool = False,
    ) -> None:
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        target = urlsplit(upstream)
        self.upstream = (target.hostname or "127.0.0.1", target.port or 80)
        self.rate = rate
        self.kinds = tuple(kinds)
        self.stall_s = stall_s
        self.eligible = eligible
        self.ssl_context = ssl_context
        # A misbehaving middlebox: injected errors quote the request headers.
        self.echo_headers = echo_headers
        self.records: list[Record] = []
        self.port = 0
        self._rng = random.Random(seed)
        self._forced: list[_Forced] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self._ready = threading.Event()

    # -- configuration -------------------------------------------------------------
    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def force(
        self,
        fault: str,
        method: str | None = None,
        fragment: str = "",
        times: int = 1,
    ) -> None:
        """Queue ``fault`` (one of :data:`FAULTS`) for the next ``times``
        requests with ``method`` whose path holds ``fragment``, whatever the
        rate; it applies once the faults queued before it are used up."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._forced.append(_Forced(fault, method, fragment, times))

    def of(self, method: str | None = None, fragment: str = "") -> list[Record]:
        with self._lock:
            return [
                r
                for r in self.records
                if (method is None or r.method == method) and fragment in r.path
            ]

    def faulted(self) -> list[Record]:
        with self._lock:
            return [r for r in self.records if r.fault]

    def _choose(self, method: str, path: str, watch: bool) -> str:
        with self._lock:
            # A queue: each entry waits until the ones before it are used up.
            while self._forced and self._forced[0].left <= 0:
                self._forced.pop(0)
            head = self._forced[0] if self._forced else None
            if (
                head is not None
                and head.method in (None, method)
                and head.fragment in path
            ):
                head.left -= 1
                return head.fault
            if self.eligible is not None and not self.eligible(method, path):
                return ""
            if self._rng.random() >= self.rate:
                return ""
            kind = self._rng.choice(self.kinds)
            if kind in ("stall", "drop"):
                return kind
            return f"{kind}-{self._rng.choice(('before', 'after'))}"

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread = threading.Thread(
            target=self._run, name="fault-proxy", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            future.result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(
                self._serve, "127.0.0.1", 0, ssl=self.ssl_context, reuse_address=True
            )
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- one request -------------------------------------------------------------------
    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._exchange(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        except asyncio.CancelledError:
            pass  # the proxy is stopping; asyncio would log a cancelled handler
        finally:
            if task is not None:
                self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = [
            tuple(x.strip() for x in line.split(":", 1))
            for line in lines[1:]
            if ":" in line
        ]
        length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
        body = await reader.readexactly(length) if length else b""
        query = parse_qs(urlsplit(target).query)
        watch = query.get("watch", [""])[0].lower() in ("true", "1")
        fault = self._choose(method, target, watch)
        if watch and fault.endswith("-after"):
            fault = fault.replace("-after", "-before")
        record = Record(method, target, watch, fault, headers=dict(headers))
        with self._lock:
            self.records.append(record)

        if fault in ("500-before", "503-before"):
            record.status = await self._answer_error(writer, int(fault[:3]), headers)
            return
        if fault == "reset-before":
            _reset(writer)
            return
        if fault == "stall":
            await asyncio.sleep(self.stall_s)

        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        try:
            forwarded = [
                f"{method} {target} HTTP/1.1",
                *(f"{k}: {v}" for k, v in headers if k.lower() not in _HOP),
                "Connection: close",
                "",
                "",
            ]
            up_writer.write("\r\n".join(forwarded).encode("latin-1") + body)
            await up_writer.drain()
            if fault == "drop" and watch:
                await self._relay_then_cut(up_reader, writer, record)
            elif fault in ("500-after", "503-after", "reset-after", "drop"):
                answer = await up_reader.read()
                if fault == "drop":
                    record.status = _status_of(answer)
                    writer.write(answer[: max(1, len(answer) // 2)])
                    await writer.drain()
                    _reset(writer)
                elif fault == "reset-after":
                    _reset(writer)
                else:
                    record.status = await self._answer_error(
                        writer, int(fault[:3]), headers
                    )
            else:
                await self._relay(up_reader, writer, record)
        finally:
            up_writer.close()

    async def _relay(
        self,
        up_reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        record: Record,
    ) -> None:
        while chunk := await up_reader.read(65536):
            if not record.status:
                record.status = _status_of(chunk)
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    async def _relay_then_cut(
        self,
        up_reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        record: Record,
    ) -> None:
        """Pass a watch stream on for a moment, then cut it."""
        loop = asyncio.get_running_loop()
        with self._lock:
            cut_at = loop.time() + self._rng.uniform(0.05, 0.5)
        while (left := cut_at - loop.time()) > 0:
            try:
                chunk = await asyncio.wait_for(up_reader.read(65536), left)
            except TimeoutError:
                break
            if not chunk:
                return
            if not record.status:
                record.status = _status_of(chunk)
            writer.write(chunk)
            await writer.drain()
        _reset(writer)

    async def _answer_error(
        self,
        writer: asyncio.StreamWriter,
        code: int,
        headers: list[tuple[str, ...]],
    ) -> int:
        message = f"injected fault: {code}"
        if self.echo_headers:
            message += "; request headers: " + ", ".join(
                f"{k}: {v}" for k, v in headers
            )
        body = json.dumps(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": message,
                "reason": "InternalError" if code == 500 else "ServiceUnavailable",
                "code": code,
            }
        ).encode()
        head = (
            f"HTTP/1.1 {code} {_REASONS[code]}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + body)
        await writer.drain()
        return code
