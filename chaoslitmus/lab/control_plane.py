"""A lab without traffic: the API server, the Litmus stand-in and the world.

What activity tests and benchmarks need from a cluster when no request has
to flow: the Kubernetes API emulator with the Litmus operator loop as a
controller, the BookInfo world seeded into it, and a fault sink that records
what Litmus would have injected. `Lab` adds the data plane on top.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chaoslitmus.lab.bookinfo import world
from chaoslitmus.lab.kube.apiserver import Authorizer
from chaoslitmus.lab.kube.controllers import cluster_controllers
from chaoslitmus.lab.kube.schemas import default_crd_files
from chaoslitmus.lab.kube.store import Store
from chaoslitmus.lab.litmus.faults import FaultSink, RecordingFaultSink
from chaoslitmus.lab.litmus.operator import litmus_controller
from chaoslitmus.lab.options import LabOptions
from chaoslitmus.lab.runner import (
    ApiServerThread,
    Controller,
    make_store,
    write_kubeconfig,
)

__all__ = ["ControlPlane"]


class ControlPlane:
    """`with ControlPlane(LabOptions(litmus_startup_s=0.2)) as plane:`.

    The store serves the CRDs of `options.litmus` and of every mesh API (a
    test may seed any mesh's objects). `fault_sink` defaults to a
    `RecordingFaultSink` (read it as `plane.sink`); `operator_seed` seeds the
    operator's choices (default `options.seed`); `operator` passes knobs on
    to `LitmusOperator` (status_interval_s, pod_ready_delay_s...).
    `cluster=False` leaves out the Deployment/ReplicaSet controllers, the
    scheduler and the kubelet (objects then stay exactly as written).
    """

    def __init__(
        self,
        options: LabOptions | None = None,
        *,
        fault_sink: FaultSink | None = None,
        operator_seed: int | None = None,
        store: Store | None = None,
        token: str | None = None,
        authorizer: Authorizer | None = None,
        controllers: Sequence[Controller] = (),
        cluster: bool = True,
        **operator: Any,
    ) -> None:
        self.options = options or LabOptions()
        self.sink: FaultSink = (
            fault_sink if fault_sink is not None else RecordingFaultSink()
        )
        seed = self.options.seed if operator_seed is None else operator_seed
        operator_loop = litmus_controller(
            startup_s=self.options.litmus_startup_s,
            inject_delay_s=self.options.litmus_inject_delay_s,
            fault_sink=self.sink,
            rng=random.Random(seed),
            **operator,
        )
        if store is None:
            store = make_store(default_crd_files(litmus=self.options.litmus))
        workloads = (
            cluster_controllers(pod_start_s=self.options.pod_start_s) if cluster else []
        )
        self.server = ApiServerThread(
            store,
            controllers=[*workloads, operator_loop, *controllers],
            token=token,
            authorizer=authorizer,
        )

    @property
    def store(self) -> Store:
        return self.server.store

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> ControlPlane:
        """Serve, run the operator, then seed the world (the operator's watches
        see it arrive, as they would after a real install)."""
        self.server.start()
        try:
            self.seed(self.options)
        except BaseException:
            self.server.stop()
            raise
        return self

    def seed(self, options: LabOptions) -> None:
        """Seed (another) world, e.g. `LabOptions(namespace="east", seed=1)`."""
        self.server.call(world.seed, self.server.store, options)

    def write_kubeconfig(self, path: Path | str, **kwargs: Any) -> Path:
        """A kubeconfig for this API server (see `runner.write_kubeconfig`)."""
        return write_kubeconfig(path, self.server.url, **kwargs)

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
