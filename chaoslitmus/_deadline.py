"""A whole-request deadline for requests: connect, headers and body together.

requests only knows per-operation timeouts: each connect and each socket
read gets the limit afresh, so a server that trickles one byte a second
keeps a download alive for ever while no single read ever times out. Here
every socket a session opens is registered with a timer; when the deadline
passes the timer shuts the sockets down, which wakes a read blocked in
another thread at once, and the caller sees :attr:`SocketDeadline.expired`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter

__all__ = ["SocketDeadline"]


class SocketDeadline:
    """Shuts down every socket of a session at ``deadline`` (time.monotonic)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, self.left_s()), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> SocketDeadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()

    def left_s(self) -> float:
        return self.deadline - time.monotonic()

    def mount(self, session: requests.Session) -> requests.Session:
        """Make every connection ``session`` opens one that this deadline ends."""
        adapter = _WatchedAdapter(self)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def watch(self, sock: socket.socket) -> None:
        """Watch a connected socket through a duplicate of its descriptor.

        TLS wrapping detaches the original socket object, but the duplicate
        still names the same connection, so shutting it down ends the TLS
        session too (handshake included).
        """
        twin = sock.dup()
        with self._lock:
            if not self.expired:
                self._sockets.append(twin)
                return
        _shut(twin)
        twin.close()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed or never connected
        sock.shutdown(socket.SHUT_RDWR)


class _WatchedAdapter(HTTPAdapter):
    """An adapter whose connection pools register their sockets."""

    def __init__(self, deadline: SocketDeadline) -> None:
        self._deadline = deadline
        super().__init__()

    def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> Any:
        return self._watched(super().get_connection_with_tls_context(*args, **kwargs))

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:  # requests < 2.32
        return self._watched(super().get_connection(*args, **kwargs))

    def _watched(self, pool: Any) -> Any:
        base = pool.ConnectionCls
        if getattr(base, "_deadline", None) is self._deadline:
            return pool
        deadline = self._deadline

        class Watched(base):  # type: ignore[misc, valid-type]
            _deadline = deadline

            def _new_conn(self) -> socket.socket:
                sock = super()._new_conn()
                deadline.watch(sock)
                return sock

        pool.ConnectionCls = Watched
        return pool
