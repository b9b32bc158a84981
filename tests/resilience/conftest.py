"""A lab (API emulator + Litmus operator loop + BookInfo world) per module, and
a fault proxy per test between the extension and the lab, reached through a
kubeconfig exactly as a user's cluster would be."""

from __future__ import annotations

import itertools
import json
import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chaoslitmus.lab import (
    ApiServerThread,
    Authorizer,
    ControlPlane,
    LabOptions,
    write_kubeconfig,
)
from chaoslitmus.lab.bookinfo import world

from .faultproxy import FaultProxy

NS = world.NAMESPACE
ENGINES = "litmuschaos.io/v1alpha1/chaosengines"
ROUTERS = "appmesh.k8s.aws/v1beta2/virtualrouters"
# Runner/experiment pods "start" after this long in the operator loop.
STARTUP_S = 0.2
# The story's retry policy.
STORY = {
    "max_retries": 3,
    "per_retry_timeout_ms": 2000,
    "http_retry_events": ["server-error"],
}
_namespaces = itertools.count(1)


@dataclass
class ResilienceRig:
    """The lab's control plane, with store shortcuts for the checks."""

    plane: ControlPlane

    @property
    def server(self) -> ApiServerThread:
        return self.plane.server

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.server.call(fn, *args)

    def engines(self, namespace: str = NS) -> list[dict]:
        items, _ = self.server.call(self.server.store.list, ENGINES, namespace)
        return items

    def engine_names(self, namespace: str = NS) -> set[str]:
        return {e["metadata"]["name"] for e in self.engines(namespace)}

    def get(self, key: str, name: str, namespace: str = NS) -> dict:
        return self.server.call(self.server.store.get, key, namespace, name)

    def mesh_namespace(self) -> str:
        """A namespace of its own holding the world's App Mesh v1beta2 objects."""
        ns = f"mesh-{next(_namespaces)}"
        store = self.server.store
        self.call(store.create, "v1/namespaces", None, world.namespace_manifest(ns))
        for manifest in world.appmesh_v1beta2_manifests(ns):
            self.call(store.create, world.resource_key(manifest), ns, manifest)
        return ns

    def router(self, namespace: str) -> dict:
        return self.get(ROUTERS, world.RATINGS_ROUTER, namespace)


def start_lab(
    token: str | None = None, authorizer: Authorizer | None = None
) -> ResilienceRig:
    options = LabOptions(litmus_startup_s=STARTUP_S, litmus_inject_delay_s=0.2)
    plane = ControlPlane(
        options, operator_seed=7, token=token, authorizer=authorizer
    ).start()
    return ResilienceRig(plane)


def point_at(
    monkeypatch: pytest.MonkeyPatch, path: Path, url: str, token: str | None = None
) -> Path:
    """What a user does: a kubeconfig for ``url`` and KUBECONFIG naming it."""
    written = write_kubeconfig(path, url, namespace=NS, token=token)
    monkeypatch.setenv("KUBECONFIG", str(written))
    for var in (
        "KUBERNETES_CONTEXT",
        "KUBERNETES_HOST",
        "CHAOSTOOLKIT_IN_POD",
        "KUBERNETES_VERIFY_SSL",
        "KUBERNETES_DEBUG",
    ):
        monkeypatch.delenv(var, raising=False)
    return written


@pytest.fixture(scope="module")
def lab() -> Iterator[ResilienceRig]:
    lab = start_lab()
    try:
        yield lab
    finally:
        lab.server.stop()


ProxyFactory = Callable[..., FaultProxy]


@pytest.fixture
def faults(
    lab: ResilienceRig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[ProxyFactory]:
    """Start a fault proxy in front of the lab and point KUBECONFIG at it.

    ``faults(rate=0.2, seed=1, kinds=...)`` returns the running proxy.
    """
    started: list[FaultProxy] = []

    def make(**options: Any) -> FaultProxy:
        proxy = FaultProxy(lab.server.url, **options).start()
        started.append(proxy)
        point_at(monkeypatch, tmp_path / f"kubeconfig-{len(started)}", proxy.url)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1 (needs openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def frozen(obj: dict) -> tuple[str, str]:
    """Spec and annotations as JSON text: what must come back byte for byte."""
    return json.dumps(obj["spec"]), json.dumps(obj["metadata"].get("annotations"))
