"""Loopback sockets for the lab's servers, and the reviews port policy."""

from __future__ import annotations

import errno
import socket

from chaoslitmus.lab.options import DEFAULT_REVIEWS_PORT, LabError

__all__ = ["bind_loopback", "reviews_socket"]


def bind_loopback(port: int = 0) -> socket.socket:
    """A listening, non-blocking TCP socket on 127.0.0.1 (OSError if taken)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(256)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def reviews_socket(
    port: int | None, default: int = DEFAULT_REVIEWS_PORT
) -> tuple[socket.socket, str | None]:
    """Bind the reviews port; returns the socket and a note when `default`
    (None asked) was taken and a free port is used instead."""
    if port is None:
        try:
            return bind_loopback(default), None
        except OSError as exc:
            sock = bind_loopback(0)
            note = (
                f"port {default} is not available ({_why(exc)}); "
                f"reviews listens on {sock.getsockname()[1]} instead"
            )
            return sock, note
    try:
        return bind_loopback(port), None
    except OSError as exc:
        raise LabError(
            f"cannot listen on 127.0.0.1:{port} for reviews ({_why(exc)}): "
            "choose another --reviews-port, or leave it out to use 8080 or a free port"
        ) from None


def _why(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "already in use"
    if exc.errno == errno.EACCES:
        return "permission denied"
    return exc.strerror or str(exc)
