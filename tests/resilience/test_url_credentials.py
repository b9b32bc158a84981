"""A password in a URL, or an Authorization header, is sent but never shown.

A real web server on 127.0.0.1 demands HTTP Basic credentials; the probes
and the manifest fetch reach it (and a closed port, and a stalled path) with
``http://admin:<password>@host/...``. Outputs, raised messages, every log
record at DEBUG, stdout/stderr, a ``chaos run`` journal and its log, and the
HTML and markdown reports are then searched for the secrets.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.http.probes import http_latency_ms, http_status, measure_endpoint
from chaoslitmus.litmus import actions
from chaoslitmus.report.cli import main as report_main

PASSWORD = "pw-5e1f0c9a7d3b"
SHORT_PASSWORD = "pw"
TOKEN = "tok-8a2c4e6f0b1d"
COOKIE = "sess-3f9d1b7c5a0e"
SECRETS = (PASSWORD, TOKEN, COOKIE, base64.b64encode(f"admin:{PASSWORD}".encode()))
LOGGERS = ("chaostoolkit", "chaoslitmus", "urllib3", "aiohttp", "asyncio")


class Site:
    """Answers 200 to admin:PASSWORD (or admin:pw), 401 otherwise; /slow stalls."""

    def __init__(self) -> None:
        accepted = {
            "Basic " + base64.b64encode(f"admin:{p}".encode()).decode()
            for p in (PASSWORD, SHORT_PASSWORD)
        }
        self.seen: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                site.seen.append(self.headers.get("Authorization", ""))
                if self.path == "/slow":
                    time.sleep(1.0)
                ok = self.headers.get("Authorization") in accepted
                body = b"ok" if ok else b"who are you?"
                status = 404 if self.path == "/missing" else 200
                self.send_response(status if ok else 401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        ).start()

    def url(self, path: str = "/", password: str = PASSWORD) -> str:
        return f"http://admin:{password}@127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    server = Site()
    yield server
    server.close()


@pytest.fixture
def recorded(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def failure_text(run: Callable[[], object]) -> str:
    with pytest.raises(ActivityFailed) as failed:
        run()
    assert "\n" not in str(failed.value)
    return "".join(traceback.format_exception(failed.value))


def assert_no_secret(*texts: str, short: bool = False) -> None:
    for text in texts:
        for secret in SECRETS:
            secret = secret.decode() if isinstance(secret, bytes) else secret
            assert secret not in text
        if short:  # "pw" appears in ordinary words: look for it as user info
            assert f"admin:{SHORT_PASSWORD}@" not in text


def test_measure_endpoint_sends_the_password_and_never_shows_it(site, recorded, capfd):
    out = measure_endpoint(site.url(), duration_s=0.5, rate_per_s=10)
    slow = measure_endpoint(site.url("/slow"), duration_s=0.2, rate_per_s=10,
                            timeout_s=0.2)  # fmt: skip

    assert out["statuses"] == {"200": out["total"]}  # the credentials worked
    assert out["url"] == f"http://***@127.0.0.1:{site.port}/"
    assert slow["errors"]["timeout"] == slow["total"]
    stdout, stderr = capfd.readouterr()
    assert_no_secret(json.dumps(out), json.dumps(slow), recorded.text, stdout, stderr)


def test_failing_probes_do_not_show_url_passwords_or_headers(site, recorded, capfd):
    closed = f"http://admin:{PASSWORD}@127.0.0.1:{closed_port()}/"
    short = f"http://admin:{SHORT_PASSWORD}@127.0.0.1:{closed_port()}/"
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Proxy-Authorization": f"Basic {base64.b64encode(TOKEN.encode()).decode()}",
        "Cookie": f"theme=dark; session={COOKIE}",
    }
    texts = [
        failure_text(lambda: http_status(closed)),
        failure_text(lambda: http_status(short)),
        failure_text(lambda: http_latency_ms(site.url("/slow"), timeout_s=0.2)),
        failure_text(
            lambda: http_status(f"http://127.0.0.1:{closed_port()}/", headers=headers)
        ),  # fmt: skip
        failure_text(lambda: http_status(f"http://admin:{PASSWORD}@127.0.0.1:99999/")),
        failure_text(lambda: http_status(closed, headers={"Authorization": 12345678})),
        failure_text(lambda: measure_endpoint(closed, duration_s=-1)),
        failure_text(lambda: measure_endpoint(closed, headers=headers)),
    ]
    out = measure_endpoint(closed, duration_s=0.2, rate_per_s=10)

    assert "no answer from GET http://***@127.0.0.1:" in texts[0]
    assert "and headers carry an Authorization header; give only one" in texts[-1]
    assert out["errors"]["connection"] == out["total"]
    stdout, stderr = capfd.readouterr()
    assert_no_secret(*texts, json.dumps(out), recorded.text, stdout, stderr, short=True)
    assert "12345678" not in texts[5].splitlines()[-1]  # the message


def test_failing_manifest_fetches_do_not_show_the_password(site, recorded, capfd):
    texts = [
        failure_text(
            lambda: actions.create_engine_from_manifest(
                site.url("/missing"), allow_insecure=True, timeout_s=5
            )
        ),
        failure_text(
            lambda: actions.install_experiment(
                f"http://admin:{PASSWORD}@127.0.0.1:{closed_port()}/x.yaml",
                "bookinfo",
                allow_insecure=True,
            )
        ),
        failure_text(lambda: actions.create_engine_from_manifest(site.url("/x"))),
        failure_text(
            lambda: actions.install_experiment(
                f"ftp://admin:{PASSWORD}@127.0.0.1/x.yaml", "bookinfo"
            )
        ),
    ]
    assert "fetching http://***@127.0.0.1:" in texts[0]
    assert "answered HTTP 404" in texts[0]  # the credentials were accepted
    assert "over plain http" in texts[2]
    stdout, stderr = capfd.readouterr()
    assert_no_secret(*texts, recorded.text, stdout, stderr)


def experiment(closed: int) -> dict:
    def python(name: str, module: str, func: str, arguments: dict) -> dict:
        return {
            "type": "probe",
            "name": name,
            "provider": {
                "type": "python",
                "module": module,
                "func": func,
                "arguments": arguments,
            },
        }

    measure = python(
        "callers-see",
        "chaoslitmus.http.probes",
        "measure_endpoint",
        {"url": "${target}", "duration_s": 0.5, "rate_per_s": 10},
    )
    status = python(
        "status-is-200", "chaoslitmus.http.probes", "http_status", {"url": "${target}"}
    )
    status["tolerance"] = 200
    return {
        "title": "credentials stay secret",
        "description": "probes against a server that wants a password",
        "configuration": {
            "target": {"type": "env", "key": "TARGET_URL"},
            "closed": {"type": "env", "key": "CLOSED_URL"},
            "manifest": {"type": "env", "key": "MANIFEST_URL"},
        },
        "steady-state-hypothesis": {"title": "callers get 200", "probes": [status]},
        "method": [
            python(
                "status-of-nothing",
                "chaoslitmus.http.probes",
                "http_status",
                {"url": "${closed}"},
            ),
            {
                **python(
                    "engine-from-missing-manifest",
                    "chaoslitmus.litmus.actions",
                    "create_engine_from_manifest",
                    {"path_or_url": "${manifest}", "allow_insecure": True},
                ),
                "type": "action",
            },
            {**measure, "name": "callers-during"},
        ],
    }


def test_chaos_run_journal_log_and_reports_hold_no_password(site, tmp_path):
    closed = closed_port()
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(experiment(closed)))
    env = {
        **os.environ,
        "TARGET_URL": site.url(),
        "CLOSED_URL": f"http://admin:{PASSWORD}@127.0.0.1:{closed}/",
        "MANIFEST_URL": site.url("/missing"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    chaos = Path(sys.executable).with_name("chaos")
    run = subprocess.run(
        [
            str(chaos), "--verbose", "--log-file", str(tmp_path / "chaostoolkit.log"),
            "run", "--journal-path", str(tmp_path / "journal.json"), str(path),
        ],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert (tmp_path / "journal.json").exists(), run.stdout[-2000:] + run.stderr[-2000:]
    journal = json.loads((tmp_path / "journal.json").read_text())
    runs = {r["activity"]["name"]: r for r in journal["run"]}
    assert runs["status-of-nothing"]["status"] == "failed"
    assert "http://***@127.0.0.1" in "".join(runs["status-of-nothing"]["exception"])
    assert runs["callers-during"]["output"]["statuses"]["200"] > 0  # auth worked
    texts = [
        (tmp_path / "journal.json").read_text(),
        (tmp_path / "chaostoolkit.log").read_text(),
        run.stdout,
        run.stderr,
    ]

    # An older journal that kept the password in an argument and an output.
    legacy = json.loads(texts[0])
    legacy["experiment"]["configuration"]["target"] = site.url()
    legacy["run"][-1]["activity"]["provider"]["arguments"]["url"] = site.url()
    legacy["run"][-1]["output"]["url"] = site.url()
    legacy["run"][0]["exception"].append(f"Error: GET {site.url()} failed")
    (tmp_path / "legacy.json").write_text(json.dumps(legacy))
    assert PASSWORD in (tmp_path / "legacy.json").read_text()

    for journal_path in ("journal.json", "legacy.json"):
        for suffix in ("html", "md"):
            report = tmp_path / f"{journal_path}.{suffix}"
            assert report_main([str(tmp_path / journal_path), "-o", str(report)]) == 0
            texts.append(report.read_text())
    assert "***@127.0.0.1" in texts[-1]  # the legacy URL is shown, masked
    assert_no_secret(*texts)
