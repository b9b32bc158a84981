"""Manifests by URL only over https (redirects included), YAML loaded safely.

Real local web servers on 127.0.0.1 (plain and TLS) serve the manifests and
count what they are asked, so "refused" also means "never fetched".
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.litmus import actions
from chaoslitmus.sources import MAX_MANIFEST_BYTES, load_documents

from .conftest import server_context

MANIFEST = b"""apiVersion: litmuschaos.io/v1alpha1
kind: ChaosExperiment
metadata:
  name: pod-network-latency
spec: {}
"""
# Would run a command on load with yaml.load / unsafe_load.
EVIL = """apiVersion: v1
kind: ConfigMap
metadata:
  name: !!python/object/apply:os.system ["touch {marker}"]
"""


@dataclass
class Site:
    """A web server on 127.0.0.1: /manifest, /big, /missing, /to?url=..."""

    url: str
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def sites(certificate) -> Iterator[dict[str, Site]]:
    servers = []
    found: dict[str, Site] = {}

    def serve(name: str, context: ssl.SSLContext | None) -> None:
        site = Site("")

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                site.paths.append(self.path)
                if self.path.startswith("/to?url="):
                    self.send_response(302)
                    self.send_header("Location", self.path.split("=", 1)[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                bodies = {
                    "/manifest": MANIFEST,
                    "/big": b"#" * (MAX_MANIFEST_BYTES + 1),
                }
                body = bodies.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if context is not None:
            server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https" if context else "http"
        site.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        servers.append(server)
        found[name] = site

    serve("http", None)
    serve("https", server_context(certificate))
    yield found
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def trusted(monkeypatch, certificate) -> None:
    """requests trusts our test CA, as it would a public one."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))


def test_https_is_fetched(sites, trusted):
    [doc] = load_documents(f"{sites['https'].url}/manifest")
    assert doc["kind"] == "ChaosExperiment"


def test_plain_http_is_refused_without_being_fetched(sites):
    with pytest.raises(ActivityFailed, match="over plain http: use https"):
        load_documents(f"{sites['http'].url}/manifest")
    assert sites["http"].paths == []


def test_plain_http_is_fetched_when_allowed(sites):
    [doc] = load_documents(f"{sites['http'].url}/manifest", allow_insecure=True)
    assert doc["metadata"]["name"] == "pod-network-latency"


def test_a_redirect_to_http_is_refused_without_following_it(sites, trusted):
    target = f"{sites['http'].url}/manifest"
    with pytest.raises(ActivityFailed, match="redirected from https://"):
        load_documents(f"{sites['https'].url}/to?url={target}")
    assert sites["http"].paths == []


def test_a_redirect_to_https_is_followed(sites, trusted):
    target = f"{sites['https'].url}/manifest"
    [doc] = load_documents(f"{sites['https'].url}/to?url={target}")
    assert doc["kind"] == "ChaosExperiment"


def test_an_untrusted_certificate_is_refused(sites):
    with pytest.raises(ActivityFailed, match="cannot fetch .*SSLError"):
        load_documents(f"{sites['https'].url}/manifest")


def test_other_schemes_are_refused():
    with pytest.raises(ActivityFailed, match="unsupported location"):
        load_documents("ftp://127.0.0.1/manifest.yaml")


def test_oversized_and_missing_answers_are_clear(sites, trusted):
    with pytest.raises(ActivityFailed, match="larger than 5 MiB"):
        load_documents(f"{sites['https'].url}/big")
    with pytest.raises(ActivityFailed, match="answered HTTP 404"):
        load_documents(f"{sites['https'].url}/missing")


def test_python_tags_in_yaml_are_refused_and_never_run(tmp_path: Path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.yaml"
    path.write_text(EVIL.format(marker=marker))

    with pytest.raises(ActivityFailed, match="is not valid YAML"):
        load_documents(str(path))
    # The activity refuses it before talking to any cluster.
    with pytest.raises(ActivityFailed, match="is not valid YAML"):
        actions.install_experiment(str(path), "bookinfo")
    with pytest.raises(ActivityFailed, match="is not valid YAML"):
        actions.create_engine_from_manifest(str(path))
    assert not marker.exists()
