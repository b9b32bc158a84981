"""The fault proxy itself: it injects what it says, where it says."""

from __future__ import annotations

import http.client
import json
import time

import pytest

from chaoslitmus.lab.bookinfo import world

from .faultproxy import FaultProxy


def send(
    proxy: FaultProxy, method: str, path: str, body: dict | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        conn.request(method, path, body=data, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def namespace_exists(lab, name: str) -> bool:
    try:
        lab.get("v1/namespaces", name, None)
    except Exception as exc:  # the store's 404
        assert getattr(exc, "status", None) == 404
        return False
    return True


@pytest.fixture
def proxy(lab):
    with FaultProxy(lab.server.url, rate=0.0) as running:
        yield running


def test_without_faults_it_forwards(proxy):
    status, body = send(proxy, "GET", "/version")
    assert status == 200 and json.loads(body)["gitVersion"]
    assert [(r.method, r.path, r.fault, r.status) for r in proxy.records] == [
        ("GET", "/version", "", 200)
    ]


def test_an_error_before_means_the_server_never_saw_it(lab, proxy):
    proxy.force("503-before", method="POST")
    status, body = send(
        proxy, "POST", "/api/v1/namespaces", world.namespace_manifest("fp-before")
    )
    assert status == 503 and json.loads(body)["kind"] == "Status"
    assert not namespace_exists(lab, "fp-before")


def test_an_error_after_means_the_write_happened(lab, proxy):
    proxy.force("500-after", method="POST")
    status, _ = send(
        proxy, "POST", "/api/v1/namespaces", world.namespace_manifest("fp-after")
    )
    assert status == 500
    assert namespace_exists(lab, "fp-after")


def test_a_reset_gives_no_answer(lab, proxy):
    proxy.force("reset-after", method="POST")
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        send(proxy, "POST", "/api/v1/namespaces", world.namespace_manifest("fp-reset"))
    assert namespace_exists(lab, "fp-reset")


def test_a_drop_cuts_the_answer(proxy):
    proxy.force("drop", method="GET")
    with pytest.raises((ConnectionError, http.client.IncompleteRead)):
        send(proxy, "GET", "/api/v1/namespaces")


def test_a_stall_delays_then_answers(proxy):
    proxy.stall_s = 0.3
    proxy.force("stall", method="GET")
    began = time.monotonic()
    status, _ = send(proxy, "GET", "/version")
    assert status == 200 and time.monotonic() - began >= 0.3


def test_forced_faults_apply_in_order(proxy):
    proxy.force("503-before", method="POST")
    proxy.force("500-before", method="GET")
    assert send(proxy, "GET", "/version")[0] == 200  # the POST fault comes first
    assert send(proxy, "POST", "/api/v1/namespaces", {})[0] == 503
    assert send(proxy, "GET", "/version")[0] == 500
    assert send(proxy, "GET", "/version")[0] == 200


def test_the_rate_is_about_what_was_asked(lab):
    with FaultProxy(lab.server.url, rate=0.2, seed=4, kinds=("500", "503")) as proxy:
        statuses = [send(proxy, "GET", "/version")[0] for _ in range(200)]
    share = sum(s != 200 for s in statuses) / len(statuses)
    # Binomial(200, 0.2): 0.1..0.3 is more than 3.5 standard deviations wide.
    assert 0.1 <= share <= 0.3
    assert len(proxy.faulted()) == sum(s != 200 for s in statuses)
