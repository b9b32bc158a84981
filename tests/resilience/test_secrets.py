"""No token in logs, journals or error messages, whatever goes wrong.

A lab API server that demands a bearer token and forbids some verbs; the
token travels in a kubeconfig (or chaosk8s' KUBERNETES_* secrets). Activities
succeed and fail in several ways (401, 403, 404, 500s, a middlebox that
quotes request headers back, an unreachable API) while every logger records
at DEBUG and stdout/stderr are captured; the token must appear nowhere.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.lab.bookinfo import world
from chaoslitmus.litmus import actions, probes
from chaoslitmus.mesh.actions import restore_retry_policy, set_retry_policy

from .conftest import NS, STORY, ResilienceRig, point_at, start_lab
from .faultproxy import FaultProxy

TOKEN = "s3cr3t-lab-token-5d1e0c7a9b"
WRONG = "stale-token-0f4b2e7d13"
FORBIDDEN = {("create", "chaosengines"), ("patch", "virtualrouters")}
MESH = {
    "name": f"{world.RATINGS_SERVICE}.{NS}.svc.cluster.local",
    "namespace": NS,
    "mesh": "appmesh",
}
LOGGERS = ("chaostoolkit", "urllib3", "kubernetes", "client", "chaoslitmus")


def authorizer(verb, rtype, namespace, name) -> bool:
    return (verb, rtype.plural) not in FORBIDDEN


@pytest.fixture(scope="module")
def guarded() -> Iterator[ResilienceRig]:
    lab = start_lab(token=TOKEN, authorizer=authorizer)
    try:
        yield lab
    finally:
        lab.server.stop()


@pytest.fixture
def recorded(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of every logger, at DEBUG (the kubernetes client's too)."""
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def failure_text(run: Callable[[], object]) -> str:
    """The message and the whole traceback of the failure ``run`` ends with."""
    with pytest.raises(ActivityFailed) as failed:
        run()
    text = "".join(traceback.format_exception(failed.value))
    assert "\n" not in str(failed.value)
    return text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
        assert WRONG not in text


def test_failures_with_the_right_token_never_show_it(
    guarded, recorded, capfd, monkeypatch, tmp_path
):
    point_at(monkeypatch, tmp_path / "kc", guarded.server.url, token=TOKEN)

    # These work: the token was sent and accepted.
    assert actions.stop_engine("no-such-engine", NS)["reason"] == "not found"
    assert restore_retry_policy(**MESH)["restored"] is False
    texts = [
        failure_text(lambda: actions.inject_network_latency(NS, "app=ratings")),
        failure_text(lambda: set_retry_policy(**MESH, **STORY)),
        failure_text(lambda: probes.chaos_result("nope", "pod-network-latency", NS)),
        failure_text(lambda: actions.wait_for_result("nope", NS, timeout_s=5)),
    ]
    assert "forbidden" in texts[0] and "forbidden" in texts[1]
    out, err = capfd.readouterr()
    assert_no_secret(*texts, recorded.text, out, err)
    assert any(r.name.startswith("urllib3") for r in recorded.records)  # it did log


def test_a_rejected_token_is_not_shown(guarded, recorded, capfd, monkeypatch, tmp_path):
    point_at(monkeypatch, tmp_path / "kc", guarded.server.url, token=WRONG)

    text = failure_text(lambda: actions.stop_engine("x", NS))

    assert "refused our credentials" in text
    out, err = capfd.readouterr()
    assert_no_secret(text, recorded.text, out, err)


def test_a_middlebox_quoting_our_headers_is_redacted(
    guarded, recorded, capfd, monkeypatch, tmp_path
):
    with FaultProxy(
        guarded.server.url, rate=1.0, kinds=("500",), echo_headers=True
    ) as proxy:
        point_at(monkeypatch, tmp_path / "kc", proxy.url, token=TOKEN)
        text = failure_text(lambda: actions.stop_engine("x", NS))
        sent = [v for r in proxy.records for k, v in r.headers.items()]
        assert f"Bearer {TOKEN}" in sent  # the token did reach the middlebox

    assert "answered 500" in text and "Bearer ***" in text
    out, err = capfd.readouterr()
    assert_no_secret(text, recorded.text, out, err)


def test_an_unreachable_api_is_reported_without_the_token(
    recorded, capfd, monkeypatch, tmp_path
):
    point_at(monkeypatch, tmp_path / "kc", f"http://127.0.0.1:{free_port()}", TOKEN)

    text = failure_text(lambda: actions.stop_engine("x", NS))

    assert "cannot reach the Kubernetes API" in text
    out, err = capfd.readouterr()
    assert_no_secret(text, recorded.text, out, err)


def test_kubernetes_debug_cannot_print_the_token(
    guarded, recorded, capfd, monkeypatch, tmp_path
):
    """chaosk8s turns on the client's wire debug for KUBERNETES_DEBUG, which
    prints every request header to stdout; we keep it off, and say so."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.setenv("KUBERNETES_DEBUG", "true")
    secrets = {"KUBERNETES_HOST": guarded.server.url, "KUBERNETES_API_KEY": TOKEN}

    out = actions.stop_engine("no-such-engine", NS, secrets=secrets)
    text = failure_text(
        lambda: actions.inject_network_latency(NS, "app=ratings", secrets=secrets)
    )

    assert out["reason"] == "not found"  # the token did its job
    stdout, stderr = capfd.readouterr()
    assert_no_secret(text, recorded.text, stdout, stderr)
    assert "KUBERNETES_DEBUG is ignored" in recorded.text


EXPERIMENT = {
    "title": "secrets stay secret",
    "description": "activities that succeed and fail against a guarded API",
    "secrets": {
        "k8s": {
            "KUBERNETES_HOST": {"type": "env", "key": "LAB_HOST"},
            "KUBERNETES_API_KEY": {"type": "env", "key": "LAB_TOKEN"},
        }
    },
    "method": [
        {
            "type": "action",
            "name": "stop-missing-engine",
            "provider": {
                "type": "python",
                "module": "chaoslitmus.litmus.actions",
                "func": "stop_engine",
                "arguments": {"engine_name": "no-such-engine", "namespace": NS},
                "secrets": ["k8s"],
            },
        },
        {
            "type": "action",
            "name": "forbidden-launch",
            "provider": {
                "type": "python",
                "module": "chaoslitmus.litmus.actions",
                "func": "inject_network_latency",
                "arguments": {"app_namespace": NS, "app_label": "app=ratings"},
                "secrets": ["k8s"],
            },
        },
        {
            "type": "action",
            "name": "quoted-headers",
            "provider": {
                "type": "python",
                "module": "chaoslitmus.litmus.actions",
                "func": "stop_engine",
                "arguments": {"engine_name": "x", "namespace": NS},
                "secrets": ["quoting"],
            },
        },
    ],
}


def test_chaos_run_journal_and_log_hold_no_token(guarded, tmp_path):
    experiment = json.loads(json.dumps(EXPERIMENT))
    with FaultProxy(
        guarded.server.url, rate=1.0, kinds=("503",), echo_headers=True
    ) as proxy:
        experiment["secrets"]["quoting"] = {
            "KUBERNETES_HOST": proxy.url,
            "KUBERNETES_API_KEY": {"type": "env", "key": "LAB_TOKEN"},
        }
        path = tmp_path / "experiment.json"
        path.write_text(json.dumps(experiment))
        env = {
            **os.environ,
            "LAB_HOST": guarded.server.url,
            "LAB_TOKEN": TOKEN,
            "KUBECONFIG": str(tmp_path / "absent"),
            "KUBERNETES_DEBUG": "true",
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        }
        env.pop("KUBERNETES_CONTEXT", None)
        chaos = Path(sys.executable).with_name("chaos")
        run = subprocess.run(
            [
                str(chaos),
                "--verbose",
                "--log-file",
                str(tmp_path / "chaostoolkit.log"),
                "run",
                "--journal-path",
                str(tmp_path / "journal.json"),
                str(path),
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    journal = json.loads((tmp_path / "journal.json").read_text())
    runs = {r["activity"]["name"]: r for r in journal["run"]}
    assert runs["stop-missing-engine"]["status"] == "succeeded"
    assert runs["forbidden-launch"]["status"] == "failed"
    assert "forbidden" in "".join(runs["forbidden-launch"]["exception"])
    assert "Bearer ***" in "".join(runs["quoted-headers"]["exception"])
    log = (tmp_path / "chaostoolkit.log").read_text()
    assert_no_secret(
        (tmp_path / "journal.json").read_text(), log, run.stdout, run.stderr
    )
