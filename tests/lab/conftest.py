"""Shared fixtures for the lab: a real API server on 127.0.0.1, clients for it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client

from chaoslitmus.lab import ApiServerThread, write_kubeconfig

KUBECTL = shutil.which("kubectl")
LAB_NAMESPACE = "bookinfo"


@pytest.fixture
def api_server() -> Iterator[ApiServerThread]:
    """A fresh lab API server (all lab CRDs) with a `bookinfo` namespace."""
    server = ApiServerThread().start()
    server.call(
        server.store.create,
        "v1/namespaces",
        None,
        {"metadata": {"name": LAB_NAMESPACE}},
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api_client(api_server: ApiServerThread) -> Iterator[client.ApiClient]:
    """The official kubernetes client, configured for the lab server."""
    configuration = client.Configuration(host=api_server.url)
    with client.ApiClient(configuration) as api:
        yield api


@pytest.fixture
def kubeconfig_path(api_server: ApiServerThread, tmp_path: Path) -> Path:
    """A kubeconfig for the lab server, default namespace `bookinfo`."""
    return write_kubeconfig(
        tmp_path / "kubeconfig", api_server.url, namespace=LAB_NAMESPACE
    )


KubectlRunner = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def kubectl_for(tmp_path: Path) -> Callable[[Path | str], KubectlRunner]:
    """Make a kubectl runner (kubectl from PATH, skips when it is missing) for a
    kubeconfig: `run(*args, check=True, timeout_s=60, env=None)`.

    Each test gets its own discovery cache, so a CRD removed in one test is
    never remembered by the next.
    """
    if KUBECTL is None:
        pytest.skip("kubectl is not installed")
    cache = tmp_path / "kube-cache"

    def runner(kubeconfig: Path | str) -> KubectlRunner:
        def run(
            *args: str,
            check: bool = True,
            timeout_s: float = 60,
            env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess:
            command = [
                KUBECTL,
                f"--kubeconfig={kubeconfig}",
                f"--cache-dir={cache}",
                *args,
            ]
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
                env={**os.environ, **(env or {})},
            )
            if check and result.returncode != 0:
                raise AssertionError(
                    f"kubectl {' '.join(args)} failed ({result.returncode}): "
                    f"{result.stderr.strip()}"
                )
            return result

        return run

    return runner


@pytest.fixture
def kubectl(
    kubeconfig_path: Path, kubectl_for: Callable[[Path | str], KubectlRunner]
) -> KubectlRunner:
    """Run kubectl against the lab API server (see `kubectl_for`)."""
    return kubectl_for(kubeconfig_path)
