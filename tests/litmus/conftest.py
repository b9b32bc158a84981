"""A lab control plane per test module: the API emulator on 127.0.0.1, the
Litmus operator loop and the BookInfo world, reached through a kubeconfig
exactly as a user's cluster would be."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from chaoslitmus.lab import (
    ApiServerThread,
    ControlPlane,
    LabOptions,
    RecordingFaultSink,
)
from chaoslitmus.lab.bookinfo import world

NS = world.NAMESPACE
# Fast but not instant: runner/experiment pods "start" after this long.
STARTUP_S = 0.2


@dataclass
class LitmusRig:
    """The lab's control plane as these tests reach it: a kubeconfig, and
    direct reads of the store to check what the activities did."""

    plane: ControlPlane
    sink: RecordingFaultSink
    kubeconfig: str

    @property
    def server(self) -> ApiServerThread:
        return self.plane.server

    def objects(self, key: str, namespace: str = NS) -> list[dict]:
        items, _ = self.server.call(self.server.store.list, key, namespace)
        return items

    def engines(self, namespace: str = NS) -> list[dict]:
        return self.objects("litmuschaos.io/v1alpha1/chaosengines", namespace)

    def get(self, key: str, name: str, namespace: str = NS) -> dict:
        return self.server.call(self.server.store.get, key, namespace, name)


def start_lab(tmp_path, options: LabOptions | None = None) -> LitmusRig:
    options = options or LabOptions(
        litmus_startup_s=STARTUP_S, litmus_inject_delay_s=0.2
    )
    sink = RecordingFaultSink()
    plane = ControlPlane(options, fault_sink=sink, operator_seed=7).start()
    path = plane.write_kubeconfig(tmp_path / "kubeconfig")
    return LitmusRig(plane, sink, str(path))


@pytest.fixture(scope="module")
def module_lab(tmp_path_factory) -> Iterator[LitmusRig]:
    lab = start_lab(tmp_path_factory.mktemp("lab"))
    try:
        yield lab
    finally:
        lab.server.stop()


@pytest.fixture
def lab(module_lab, monkeypatch) -> LitmusRig:
    """The shared lab, with KUBECONFIG pointing at it for this test."""
    monkeypatch.setenv("KUBECONFIG", module_lab.kubeconfig)
    monkeypatch.delenv("KUBERNETES_CONTEXT", raising=False)
    return module_lab


@pytest.fixture
def fresh_lab(tmp_path, monkeypatch) -> Iterator[LitmusRig]:
    """A lab of its own, for tests that break the world (CRDs, accounts...)."""
    lab = start_lab(tmp_path)
    monkeypatch.setenv("KUBECONFIG", lab.kubeconfig)
    monkeypatch.delenv("KUBERNETES_CONTEXT", raising=False)
    try:
        yield lab
    finally:
        lab.server.stop()
