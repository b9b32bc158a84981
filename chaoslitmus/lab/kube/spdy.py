"""Just enough SPDY/3.1 for Kubernetes port-forwarding (server side).

kubectl's port-forward opens, per local connection, an "error" and a
"data" stream (headers `streamtype`, `port`, `requestid`) on one SPDY/3.1
session; since kubectl 1.31 that session is tunnelled in WebSocket binary
messages (subprotocol `SPDY/3.1+portforward.k8s.io`). This module parses
and builds the frames (SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING,
GOAWAY, WINDOW_UPDATE, DATA) and the zlib-compressed header blocks; flow
control is not enforced (the lab's payloads are small). Frame layouts are
from the SPDY/3.1 draft (Chromium project); see `docs/lab-cluster.md`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "FLAG_FIN",
    "Frame",
    "FrameReader",
    "HeaderCodec",
    "data_frame",
    "rst_stream",
    "syn_reply",
]

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9
FLAG_FIN = 0x01
CANCEL = 5  # RST_STREAM status


def _dictionary() -> bytes:
    """The SPDY/3 header-compression dictionary (a constant of the protocol):
    length-prefixed common header words, then a run of common values."""
    text = (
        "options head post put delete trace accept accept-charset "
        "accept-encoding accept-language accept-ranges age allow authorization "
        "cache-control connection content-base content-encoding "
        "content-language content-length content-location content-md5 "
        "content-range content-type date etag expect expires from host "
        "if-match if-modified-since if-none-match if-range "
        "if-unmodified-since last-modified location max-forwards pragma "
        "proxy-authenticate proxy-authorization range referer retry-after "
        "server te trailer transfer-encoding upgrade user-agent vary via "
        "warning www-authenticate method get status"
    )
    words = text.split()
    words += ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie"]
    words += ["keep-alive", "origin"]
    head = b"".join(struct.pack(">I", len(w)) + w.encode() for w in words)
    codes = "100 101 201 202 205 206 300 302 303 304 305 306 307 402 405 406 "
    codes += "407 408 409 410 411 412 413 414 415 416 417 502 504 505"
    reasons = (
        "203 Non-Authoritative Information",
        "204 No Content",
        "301 Moved Permanently",
        "400 Bad Request",
        "401 Unauthorized",
        "403 Forbidden",
        "404 Not Found",
        "500 Internal Server Error",
        "501 Not Implemented",
        "503 Service Unavailable",
    )
    tail = "".join(codes.split()) + "".join(reasons)
    tail += "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    tail += "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    tail += "chunked,text/html,image/png,image/jpg,image/gif,application/xml,"
    tail += "application/xhtml+xml,text/plain,text/javascript,public"
    tail += "privatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,"
    tail += "utf-,*,enq=0."
    return head + tail.encode()


DICTIONARY = _dictionary()


@dataclass
class Frame:
    """A parsed frame: control (`kind` > 0) or data (`kind` == 0)."""

    kind: int
    flags: int
    stream_id: int
    payload: bytes
    headers: dict[str, str] = field(default_factory=dict)
    value: int = 0  # RST_STREAM status, PING id, WINDOW_UPDATE delta

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


class HeaderCodec:
    """One zlib context per direction for the whole session, as SPDY wants."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zdict=DICTIONARY)

    def decode(self, block: bytes) -> dict[str, str]:
        raw = self._inflate.decompress(block)
        (count,) = struct.unpack_from(">I", raw, 0)
        pos, out = 4, {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", raw, pos)
            name = raw[pos + 4 : pos + 4 + n].decode("latin-1").lower()
            pos += 4 + n
            (m,) = struct.unpack_from(">I", raw, pos)
            out[name] = raw[pos + 4 : pos + 4 + m].decode("latin-1")
            pos += 4 + m
        return out

    def encode(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            raw += struct.pack(">I", len(name)) + name.lower().encode()
            raw += struct.pack(">I", len(value)) + value.encode()
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)


class FrameReader:
    """Bytes in (in any chunking), frames out."""

    def __init__(self, codec: HeaderCodec) -> None:
        self.codec = codec
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[Frame]:
        self._buffer += data
        while len(self._buffer) >= 8:
            first, second = struct.unpack_from(">II", self._buffer, 0)
            length = second & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                return
            payload = bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            flags = second >> 24
            if first & 0x80000000:
                yield self._control(first & 0xFFFF, flags, payload)
            else:
                yield Frame(0, flags, first & 0x7FFFFFFF, payload)

    def _control(self, kind: int, flags: int, payload: bytes) -> Frame:
        frame = Frame(kind, flags, 0, payload)
        if kind == SYN_STREAM:
            frame.stream_id = struct.unpack_from(">I", payload, 0)[0] & 0x7FFFFFFF
            frame.headers = self.codec.decode(payload[10:])
        elif kind in (SYN_REPLY, HEADERS):
            frame.stream_id = struct.unpack_from(">I", payload, 0)[0] & 0x7FFFFFFF
            frame.headers = self.codec.decode(payload[4:])
        elif kind in (RST_STREAM, WINDOW_UPDATE):
            stream, value = struct.unpack_from(">II", payload, 0)
            frame.stream_id, frame.value = stream & 0x7FFFFFFF, value
        elif kind == PING:
            frame.value = struct.unpack_from(">I", payload, 0)[0]
        return frame


def control_frame(kind: int, flags: int, payload: bytes) -> bytes:
    header = struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload))
    return header + payload


def syn_reply(codec: HeaderCodec, stream_id: int, fin: bool = False) -> bytes:
    payload = struct.pack(">I", stream_id) + codec.encode({})
    return control_frame(SYN_REPLY, FLAG_FIN if fin else 0, payload)


def rst_stream(stream_id: int, status: int = CANCEL) -> bytes:
    return control_frame(RST_STREAM, 0, struct.pack(">II", stream_id, status))


def ping(ping_id: int) -> bytes:
    return control_frame(PING, 0, struct.pack(">I", ping_id))


def data_frame(stream_id: int, data: bytes, fin: bool = False) -> bytes:
    flags = FLAG_FIN if fin else 0
    return struct.pack(">II", stream_id, (flags << 24) | len(data)) + data
