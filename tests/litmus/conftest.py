"""A lab control plane per test module: the API emulator on 127.0.0.1, the
Litmus operator loop and the BookInfo world, reached through a kubeconfig
exactly as a user's cluster would be."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from chaoslitmus.lab import world
from chaoslitmus.lab.faults import RecordingFaultSink
from chaoslitmus.lab.litmus_operator import LitmusOperator
from chaoslitmus.lab.runner import ApiServerThread, write_kubeconfig

NS = world.NAMESPACE
# Fast but not instant: runner/experiment pods "start" after this long.
STARTUP_S = 0.2


@dataclass
class Lab:
    server: ApiServerThread
    sink: RecordingFaultSink
    kubeconfig: str

    def objects(self, key: str, namespace: str = NS) -> list[dict]:
        items, _ = self.server.call(self.server.store.list, key, namespace)
        return items

    def engines(self, namespace: str = NS) -> list[dict]:
        return self.objects("litmuschaos.io/v1alpha1/chaosengines", namespace)

    def get(self, key: str, name: str, namespace: str = NS) -> dict:
        return self.server.call(self.server.store.get, key, namespace, name)


def start_lab(
    tmp_path,
    options: world.WorldOptions | None = None,
    operator_args: dict | None = None,
    **server_args,
) -> Lab:
    sink = RecordingFaultSink()

    def operator(store):
        return LitmusOperator(
            store,
            startup_s=STARTUP_S,
            fault_sink=sink,
            rng=random.Random(7),
            **(operator_args or {}),
        ).run()

    server = ApiServerThread(controllers=[operator], **server_args).start()
    server.call(world.seed, server.store, options or world.WorldOptions())
    path = write_kubeconfig(tmp_path / "kubeconfig", server.url)
    return Lab(server, sink, str(path))


@pytest.fixture(scope="module")
def module_lab(tmp_path_factory) -> Iterator[Lab]:
    lab = start_lab(tmp_path_factory.mktemp("lab"))
    try:
        yield lab
    finally:
        lab.server.stop()


@pytest.fixture
def lab(module_lab, monkeypatch) -> Lab:
    """The shared lab, with KUBECONFIG pointing at it for this test."""
    monkeypatch.setenv("KUBECONFIG", module_lab.kubeconfig)
    monkeypatch.delenv("KUBERNETES_CONTEXT", raising=False)
    return module_lab


@pytest.fixture
def fresh_lab(tmp_path, monkeypatch) -> Iterator[Lab]:
    """A lab of its own, for tests that break the world (CRDs, accounts...)."""
    lab = start_lab(tmp_path)
    monkeypatch.setenv("KUBECONFIG", lab.kubeconfig)
    monkeypatch.delenv("KUBERNETES_CONTEXT", raising=False)
    try:
        yield lab
    finally:
        lab.server.stop()
