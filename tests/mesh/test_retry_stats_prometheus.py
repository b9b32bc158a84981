"""retry_stats from a Prometheus server (where pods/proxy is not allowed):
a small real HTTP server answering Prometheus' query API, the caller pods
listed from the lab's API."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.lab import Lab, LabOptions
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.mesh.probes import retry_stats

VALUES = {
    "upstream_rq_total": 40,
    "upstream_rq_retry": 7,
    "upstream_rq_retry_success": 6,
}


class _Prometheus(BaseHTTPRequestHandler):
    queries: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        if url.path != "/api/v1/query":
            self.send_response(404)
            self.end_headers()
            return
        query = parse_qs(url.query)["query"][0]
        self.queries.append(query)
        stat = query.split("{")[0].removeprefix("sum(envoy_cluster_")
        body = {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [{"metric": {}, "value": [0, str(VALUES.get(stat, 0))]}],
            },
        }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def prometheus():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Prometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def lab():
    with Lab(LabOptions(reviews_port=0, litmus_startup_s=0.2, seed=19)) as lab:
        yield lab


def test_the_counters_come_from_prometheus(lab, prometheus, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", lab.env()["KUBECONFIG"])
    stats = retry_stats(
        world.NAMESPACE, "app=reviews", "ratings", prometheus_url=prometheus
    )
    assert stats["upstream_rq_retry"] == 7
    assert stats["upstream_rq_retry_success"] == 6
    assert stats["upstream_rq_total"] == 40
    assert stats["source"] == prometheus
    query = next(q for q in _Prometheus.queries if "upstream_rq_retry{" in q)
    assert f'namespace="{world.NAMESPACE}"' in query
    assert stats["pods"][0] in query and 'envoy_cluster_name=~".*ratings.*"' in query


def test_an_unreachable_prometheus_is_one_line(lab, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", lab.env()["KUBECONFIG"])
    with pytest.raises(ActivityFailed, match="Prometheus at http://127.0.0.1:9") as e:
        retry_stats(
            world.NAMESPACE,
            "app=reviews",
            "ratings",
            prometheus_url="http://127.0.0.1:9",
            timeout_s=2,
        )
    assert "\n" not in str(e.value)
