"""A recording HTTP proxy in front of the lab's API server (127.0.0.1 only).

It lets tests see exactly what the extension sends (method, path, headers,
body) and run a hook after a response is fetched but before it is returned,
which is how a "second writer" is slipped deterministically between our read
and our write.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Exchange:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    response: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class RecordingProxy:
    upstream: str
    # Called with each finished exchange before the client gets the answer.
    hook: Callable[[Exchange], None] | None = None
    exchanges: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        proxy = self
        target = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in _HOP
                }
                exchange = Exchange(self.command, self.path, headers, body)
                conn = http.client.HTTPConnection(
                    target.hostname, target.port, timeout=30
                )
                try:
                    conn.request(
                        self.command, self.path, body=body or None, headers=headers
                    )
                    answer = conn.getresponse()
                    exchange.status = answer.status
                    exchange.response = answer.read()
                    answer_headers = [
                        (k, v) for k, v in answer.getheaders() if k.lower() not in _HOP
                    ]
                finally:
                    conn.close()
                proxy.exchanges.append(exchange)
                if proxy.hook:
                    proxy.hook(exchange)
                self.send_response(exchange.status)
                for key, value in answer_headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(exchange.response)))
                self.end_headers()
                self.wfile.write(exchange.response)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def of(self, method: str, fragment: str = "") -> list[Exchange]:
        return [e for e in self.exchanges if e.method == method and fragment in e.path]


def merge_patch_upstream(upstream: str, path: str, patch: dict) -> int:
    """A second client's write, sent straight to the API server."""
    target = urlsplit(upstream)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    try:
        conn.request(
            "PATCH",
            path,
            body=json.dumps(patch),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()
