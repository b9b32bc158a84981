"""`pods/{name}/portforward`: kubectl port-forward to a lab pod's server.

kubectl (1.31+) asks for a WebSocket with the subprotocol
`SPDY/3.1+portforward.k8s.io` and speaks SPDY/3.1 inside it (`spdy.py`):
per local connection an error stream and a data stream naming the pod
port. The lab's pods are loopback servers; the data plane writes each
serving pod's loopback port in the annotation `lab.chaoslitmus.io/port`,
and container port 9080 (BookInfo's) is forwarded there. kubectl without
KUBECTL_PORT_FORWARD_WEBSOCKETS sends `Upgrade: SPDY/3.1` instead: the
same frames, on the raw connection after a 101.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from . import spdy
from .errors import bad_request
from .subresources import not_modelled

if TYPE_CHECKING:
    from .store import Store

__all__ = ["PORT_ANNOTATION", "TUNNEL_PROTOCOL", "serve_port_forward"]

log = logging.getLogger("chaoslitmus.lab")

STREAM_PROTOCOL = "portforward.k8s.io"
TUNNEL_PROTOCOL = f"SPDY/3.1+{STREAM_PROTOCOL}"
PORT_ANNOTATION = "lab.chaoslitmus.io/port"  # written by the data plane
SERVED_PORT = 9080  # the container port BookInfo's servers listen on
_CHUNK = 32 * 1024


@dataclass
class _Request:
    """One forwarded connection: kubectl's error and data streams."""

    port: int
    error_stream: int = 0
    data_stream: int = 0
    writer: asyncio.StreamWriter | None = None
    pump: asyncio.Task[None] | None = None
    pending: list[bytes] = field(default_factory=list)
    client_done: bool = False


class _Session:
    """A SPDY session for one port-forward call."""

    def __init__(
        self,
        send: Callable[[bytes], Awaitable[None]],
        target: Callable[[int], int | str],
        where: str,
    ) -> None:
        self.send = send
        self.target = target
        self.where = where
        self.codec = spdy.HeaderCodec()
        self.reader = spdy.FrameReader(self.codec)
        self.requests: dict[str, _Request] = {}
        self.by_stream: dict[int, _Request] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def feed(self, data: bytes) -> None:
        for frame in self.reader.feed(data):
            await self._frame(frame)

    async def _frame(self, frame: spdy.Frame) -> None:
        if frame.kind == spdy.SYN_STREAM:
            await self._open(frame)
        elif frame.kind == 0:
            request = self.by_stream.get(frame.stream_id)
            if request is None or frame.stream_id != request.data_stream:
                return  # data on the error stream, or an unknown stream
            if frame.payload:
                if request.writer is None:
                    request.pending.append(frame.payload)
                else:
                    request.writer.write(frame.payload)
                    await request.writer.drain()
            if frame.fin:
                request.client_done = True
                if request.writer is not None and request.writer.can_write_eof():
                    request.writer.write_eof()
        elif frame.kind == spdy.RST_STREAM:
            request = self.by_stream.get(frame.stream_id)
            if request is not None:
                self._close(request)
        elif frame.kind == spdy.PING:
            await self.send(spdy.ping(frame.value))
        # SETTINGS, WINDOW_UPDATE, GOAWAY, HEADERS: nothing to do here.

    async def _open(self, frame: spdy.Frame) -> None:
        headers = frame.headers
        await self.send(spdy.syn_reply(self.codec, frame.stream_id))
        kind = headers.get("streamtype", "")
        request_id = headers.get("requestid", str(frame.stream_id))
        try:
            port = int(headers.get("port", "0"))
        except ValueError:
            port = 0
        request = self.requests.setdefault(request_id, _Request(port))
        self.by_stream[frame.stream_id] = request
        if kind == "error":
            request.error_stream = frame.stream_id
        elif kind == "data":
            request.data_stream = frame.stream_id
        if request.error_stream and request.data_stream and request.pump is None:
            request.pump = asyncio.ensure_future(self._forward(request))
            self.tasks.add(request.pump)
            request.pump.add_done_callback(self.tasks.discard)

    async def _forward(self, request: _Request) -> None:
        target = self.target(request.port)
        if isinstance(target, str):
            await self._fail(request, target)
            return
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError as exc:
            await self._fail(request, f"connection to the pod's server failed: {exc}")
            return
        request.writer = writer
        for chunk in request.pending:
            writer.write(chunk)
        request.pending.clear()
        if request.client_done and writer.can_write_eof():
            writer.write_eof()
        try:
            while True:
                chunk = await reader.read(_CHUNK)
                if not chunk:
                    break
                await self.send(spdy.data_frame(request.data_stream, chunk))
            await self.send(spdy.data_frame(request.data_stream, b"", fin=True))
            await self.send(spdy.data_frame(request.error_stream, b"", fin=True))
        except (ConnectionError, RuntimeError):
            pass
        finally:
            writer.close()

    async def _fail(self, request: _Request, why: str) -> None:
        message = f"error forwarding port {request.port} to pod {self.where}: {why}"
        log.info("port-forward: %s", message)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send(
                spdy.data_frame(request.error_stream, message.encode(), fin=True)
            )
            await self.send(spdy.rst_stream(request.data_stream))

    def _close(self, request: _Request) -> None:
        if request.writer is not None:
            request.writer.close()
        if request.pump is not None:
            request.pump.cancel()

    async def close(self) -> None:
        for request in self.requests.values():
            self._close(request)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def serve_port_forward(
    request: web.Request, store: Store, namespace: str, name: str
) -> web.StreamResponse:
    pod = store.get("v1/pods", namespace, name)
    if (pod.get("status") or {}).get("phase") != "Running":
        raise bad_request(f"unable to upgrade connection: pod {name} is not running")
    offered = [
        p.strip()
        for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
        if p.strip()
    ]
    upgrade = request.headers.get("Upgrade", "").lower()
    versions = ",".join(request.headers.getall("X-Stream-Protocol-Version", []))
    tunnel = upgrade == "websocket" and TUNNEL_PROTOCOL in offered
    plain = upgrade.startswith("spdy/3.1") and STREAM_PROTOCOL in versions
    if not (tunnel or plain):
        raise not_modelled(
            "port-forward other than SPDY/3.1 (plain, or tunnelled in a "
            f"WebSocket as {TUNNEL_PROTOCOL})"
        )
    uid = pod["metadata"]["uid"]

    def target(port: int) -> int | str:
        try:
            current = store.get("v1/pods", namespace, name)
        except Exception:
            return "the pod is gone"
        if current["metadata"]["uid"] != uid:
            return "the pod was replaced"
        annotations = current["metadata"].get("annotations") or {}
        loopback = annotations.get(PORT_ANNOTATION)
        if loopback is None:
            return "the lab runs no server for this pod (only BookInfo's pods serve)"
        if port != SERVED_PORT:
            return f"nothing listens on port {port} (the pod serves {SERVED_PORT})"
        return int(loopback)

    where = f"{namespace}/{name}"
    log.info("port-forward: session to pod %s opened", where)
    if tunnel:
        return await _over_websocket(request, target, where)
    return await _over_spdy_upgrade(request, target, where)


async def _over_websocket(
    request: web.Request, target: Callable[[int], int | str], where: str
) -> web.StreamResponse:
    """SPDY frames in WebSocket binary messages (kubectl 1.31+)."""
    ws = web.WebSocketResponse(protocols=(TUNNEL_PROTOCOL,), max_msg_size=0)
    await ws.prepare(request)
    session = _Session(ws.send_bytes, target, where)
    try:
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                await session.feed(message.data)
            elif message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break
    except Exception:
        log.exception("port-forward: session to %s failed", where)
    finally:
        await session.close()
        await ws.close()
        log.info("port-forward: session to pod %s closed", where)
    return ws


class _RawReader:
    """Takes the connection's bytes once the HTTP exchange is over (the way
    aiohttp's own WebSocket support takes over an upgraded connection)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self.queue.put_nowait(None)


async def _over_spdy_upgrade(
    request: web.Request, target: Callable[[int], int | str], where: str
) -> web.StreamResponse:
    """`Upgrade: SPDY/3.1`: 101, then SPDY frames on the raw connection."""
    response = web.StreamResponse(
        status=101,
        headers={
            "Connection": "Upgrade",
            "Upgrade": "SPDY/3.1",
            "X-Stream-Protocol-Version": STREAM_PROTOCOL,
        },
    )
    await response.prepare(request)
    transport = request.transport
    raw = _RawReader()
    request.protocol.set_parser(raw)  # type: ignore[arg-type]
    request.protocol.keep_alive(False)

    async def send(data: bytes) -> None:
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the port-forward client went away")
        transport.write(data)

    session = _Session(send, target, where)
    try:
        while (data := await raw.queue.get()) is not None:
            await session.feed(data)
    except ConnectionResetError:
        pass
    except Exception:
        log.exception("port-forward: session to %s failed", where)
    finally:
        await session.close()
        if transport is not None:
            transport.close()
        log.info("port-forward: session to pod %s closed", where)
    return response
