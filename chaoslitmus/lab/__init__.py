"""The embedded lab: a Kubernetes API emulator, a Litmus stand-in, an
Envoy-like mesh and BookInfo's reviews/ratings, on 127.0.0.1.

Subsystems: `kube` (the API emulator), `litmus` (the chaos-operator
stand-in), `mesh` (proxy and data plane), `bookinfo` (the world); the
harness (`Lab`, `LabOptions`, the CLI) lives here. The names below are the
lab's public face; they load on first use, so `chaoslitmus.lab.options`
and the CLI's argument definitions stay importable without the `lab` extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chaoslitmus.lab.bookinfo import world
    from chaoslitmus.lab.control_plane import ControlPlane
    from chaoslitmus.lab.kube.apiserver import Authorizer
    from chaoslitmus.lab.kube.errors import ApiError
    from chaoslitmus.lab.kube.store import Store
    from chaoslitmus.lab.lab import Lab
    from chaoslitmus.lab.litmus.faults import FaultSink, RecordingFaultSink
    from chaoslitmus.lab.litmus.operator import LitmusOperator, litmus_controller
    from chaoslitmus.lab.options import LabError, LabOptions
    from chaoslitmus.lab.runner import ApiServerThread, make_store, write_kubeconfig

__all__ = [
    "ApiError",
    "ApiServerThread",
    "Authorizer",
    "ControlPlane",
    "FaultSink",
    "Lab",
    "LabError",
    "LabOptions",
    "LitmusOperator",
    "RecordingFaultSink",
    "Store",
    "litmus_controller",
    "make_store",
    "world",
    "write_kubeconfig",
]

_HOMES = {
    "ApiError": "chaoslitmus.lab.kube.errors",
    "ApiServerThread": "chaoslitmus.lab.runner",
    "Authorizer": "chaoslitmus.lab.kube.apiserver",
    "ControlPlane": "chaoslitmus.lab.control_plane",
    "FaultSink": "chaoslitmus.lab.litmus.faults",
    "Lab": "chaoslitmus.lab.lab",
    "LabError": "chaoslitmus.lab.options",
    "LabOptions": "chaoslitmus.lab.options",
    "LitmusOperator": "chaoslitmus.lab.litmus.operator",
    "RecordingFaultSink": "chaoslitmus.lab.litmus.faults",
    "Store": "chaoslitmus.lab.kube.store",
    "litmus_controller": "chaoslitmus.lab.litmus.operator",
    "make_store": "chaoslitmus.lab.runner",
    "write_kubeconfig": "chaoslitmus.lab.runner",
}


def __getattr__(name: str) -> Any:
    if name == "world":
        return importlib.import_module("chaoslitmus.lab.bookinfo.world")
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
