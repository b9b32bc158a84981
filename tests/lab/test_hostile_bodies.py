"""Hostile request bodies against the lab API, over real HTTP.

A 1 KB YAML "billion laughs" (nine anchors, each listing the previous one
nine times: 9^9 strings once written out) must be refused at once and store
nothing; a body over the API server's size limit gets 413 like a real
kube-apiserver (see docs/lab-api-behaviour.md), never a 500 that clients
retry as a server error.
"""

from __future__ import annotations

import json
import time

import pytest
import requests

from chaoslitmus.lab import ApiServerThread

NS = "bookinfo"  # created by the api_server fixture (conftest.py)
YAML = {"Content-Type": "application/yaml"}
JSON = {"Content-Type": "application/json"}
# Generous: the refusal takes milliseconds; the unguarded server spent >15 s.
ANSWER_WITHIN_S = 5.0


def configmaps_url(server: ApiServerThread) -> str:
    return f"{server.url}/api/v1/namespaces/{NS}/configmaps"


def billion_laughs(name: str) -> str:
    lines = [
        "apiVersion: v1",
        "kind: ConfigMap",
        f"metadata: {{name: {name}}}",
        "data:",
        '  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ]
    for level in range(1, 9):
        refs = ",".join([f"*l{level - 1}"] * 9)
        lines.append(f"  l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def stored_names(server: ApiServerThread) -> set[str]:
    items, _ = server.call(server.store.list, "v1/configmaps", NS)
    return {item["metadata"]["name"] for item in items}


def test_a_yaml_alias_bomb_is_refused_at_once_and_stores_nothing(
    api_server: ApiServerThread,
) -> None:
    bomb = billion_laughs("lol")
    assert len(bomb) < 1024
    started = time.monotonic()
    answer = requests.post(
        configmaps_url(api_server), data=bomb, headers=YAML, timeout=30
    )
    took = time.monotonic() - started

    assert answer.status_code == 400
    status = answer.json()
    assert status["kind"] == "Status" and status["reason"] == "BadRequest"
    assert "alias" in status["message"]
    assert took < ANSWER_WITHIN_S
    assert "lol" not in stored_names(api_server)


def test_a_self_referencing_alias_is_refused(api_server: ApiServerThread) -> None:
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: loop, x: *m}\n"
    answer = requests.post(
        configmaps_url(api_server), data=body, headers=YAML, timeout=30
    )
    assert answer.status_code == 400
    assert "loop" not in stored_names(api_server)


def test_a_few_aliases_in_a_hand_written_manifest_still_work(
    api_server: ApiServerThread,
) -> None:
    body = (
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: shared\n"
        "  labels: &labels {app: ratings, tier: backend}\n"
        "  annotations: *labels\n"
        "data: {a: x}\n"
    )
    answer = requests.post(
        configmaps_url(api_server), data=body, headers=YAML, timeout=30
    )
    assert answer.status_code == 201, answer.text
    meta = answer.json()["metadata"]
    assert (
        meta["annotations"] == meta["labels"] == {"app": "ratings", "tier": "backend"}
    )


def test_a_20_mb_body_gets_413_request_entity_too_large(
    api_server: ApiServerThread,
) -> None:
    big = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big"},
        "data": {"blob": "x" * (20 * 1024 * 1024)},
    }
    answer = requests.post(
        configmaps_url(api_server), data=json.dumps(big), headers=JSON, timeout=60
    )
    assert answer.status_code == 413
    status = answer.json()
    assert status["kind"] == "Status"
    assert status["reason"] == "RequestEntityTooLarge"
    assert status["code"] == 413
    assert "limit is 3145728" in status["message"]
    assert "big" not in stored_names(api_server)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_413_however_it_is_sent(
    api_server: ApiServerThread, chunked: bool
) -> None:
    body = b'{"kind": "ConfigMap", "data": {"blob": "' + b"y" * (4 * 1024 * 1024)
    data = iter([body[i : i + 65536] for i in range(0, len(body), 65536)])
    answer = requests.post(
        configmaps_url(api_server),
        data=data if chunked else body,
        headers=JSON,
        timeout=60,
    )
    assert answer.status_code == 413
    assert answer.json()["reason"] == "RequestEntityTooLarge"


def test_a_body_under_the_limit_is_served(api_server: ApiServerThread) -> None:
    near = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "near"},
        "data": {"blob": "z" * (2 * 1024 * 1024)},
    }
    answer = requests.post(
        configmaps_url(api_server), data=json.dumps(near), headers=JSON, timeout=60
    )
    assert answer.status_code == 201, answer.text[:200]
    assert "near" in stored_names(api_server)
