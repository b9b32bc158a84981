"""`chaoslitmus lab up` and `chaoslitmus lab run`, as a user runs them:
in a subprocess, on free ports, stopped with signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoslitmus.lab import env as lab_env
from chaoslitmus.lab.ports import bind_loopback, reviews_socket

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "chaoslitmus.cli"]
FAST = ["--reviews-port", "0", "--litmus-startup-s", "0.1"]


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p
    )
    return env


def run_cli(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=cli_env(),
        cwd=ROOT,
        check=False,
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else is listening on."""
    sock = bind_loopback(0)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_lab_run_exports_the_variables_and_returns_the_command_s_code() -> None:
    child = textwrap.dedent(
        """
        import json, os, sys, urllib.request
        names = json.loads(sys.argv[1])
        seen = {name: os.environ.get(name) for name in names}
        with urllib.request.urlopen(seen["REVIEWS_URL"], timeout=10) as answer:
            seen["reviews_status"] = answer.status
        print(json.dumps(seen))
        sys.exit(7)
        """
    )
    names = json.dumps(list(lab_env.EXPORTED))
    done = run_cli(
        "lab", "run", *FAST, "--mesh", "istio", "--", sys.executable, "-c", child, names
    )
    assert done.returncode == 7, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["reviews_status"] == 200
    assert seen["CHAOSLITMUS_MESH"] == "istio"
    assert seen["CHAOSLITMUS_MESH_API_VERSION"] == "v1"
    assert seen["CHAOSLITMUS_MESH_OBJECT"] == "ratings"
    assert seen["CHAOSLITMUS_NAMESPACE"] == "bookinfo"
    assert seen["CHAOSLITMUS_RATINGS_LABEL"] == "app=ratings"
    assert seen["REVIEWS_TIMEOUT_MS"] == "2500"
    assert all(seen[name] for name in lab_env.EXPORTED)
    # The lab is gone afterwards: its kubeconfig too.
    assert not Path(seen["KUBECONFIG"]).exists()
    assert "lab ready in" in done.stderr and "mesh: ratings-route" in done.stderr


def test_lab_run_forwards_sigterm_to_the_command() -> None:
    child = textwrap.dedent(
        """
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(5))
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    process = subprocess.Popen(
        [*CLI, "lab", "run", *FAST, "--", sys.executable, "-c", child],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_lab_up_serves_until_sigint_then_cleans_up(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "lab-kubeconfig"
    process = subprocess.Popen(
        [*CLI, "lab", "up", *FAST, "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        cwd=ROOT,
    )
    exports: dict[str, str] = {}
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("export "):
                key, _, value = line[len("export ") :].strip().partition("=")
                exports[key] = value
            if line.startswith("# Ctrl-C"):
                break
        assert exports["KUBECONFIG"] == str(kubeconfig) and kubeconfig.exists()
        with urllib.request.urlopen(exports["REVIEWS_URL"], timeout=10) as answer:
            assert answer.status == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read() if process.stderr else ""
    assert "lab stopped" in stderr
    assert not kubeconfig.exists()  # the lab created it, the lab removed it
    with pytest.raises(OSError):
        urllib.request.urlopen(exports["REVIEWS_URL"], timeout=5)


def test_a_taken_explicit_port_is_one_clear_line(taken_port: int) -> None:
    done = run_cli("lab", "up", "--reviews-port", str(taken_port))
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"chaoslitmus: error: cannot listen on 127.0.0.1:{taken_port} for reviews "
        "(already in use): choose another --reviews-port, or leave it out to use "
        "8080 or a free port"
    ]


def test_a_command_that_cannot_start_is_127_and_one_line(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-command")
    done = run_cli("lab", "run", *FAST, "--", missing)
    assert done.returncode == 127
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert errors == [
        f"chaoslitmus: error: cannot run {missing!r}: No such file or directory"
    ]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["lab", "up", "--mesh", "linkerd"], "invalid choice: 'linkerd'"),
        (["lab", "up", "--ratings-replicas", "0"], "ratings replicas must be 1-20"),
        (["lab", "up", "--seed", "x"], "invalid int value: 'x'"),
        (["lab", "run"], "lab run needs a command"),
    ],
)
def test_bad_options_are_one_line(args: list[str], words: str) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], done.stderr


def test_the_default_port_falls_back_to_a_free_one_and_says_so(taken_port: int) -> None:
    sock, note = reviews_socket(None, default=taken_port)
    try:
        port = sock.getsockname()[1]
        assert port != taken_port
        assert note == (
            f"port {taken_port} is not available (already in use); "
            f"reviews listens on {port} instead"
        )
    finally:
        sock.close()
