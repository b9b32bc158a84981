"""The whole lab in one object: API server, world, Litmus, data plane, mesh.

`Lab(LabOptions(...))` is a context manager. On start it binds the reviews
port (so a taken port fails before anything runs), builds a Store serving
the Litmus 3.x CRDs and only the chosen mesh API (as a cluster with that
control plane would), seeds the BookInfo world, starts the data plane on its
own thread and the API server with the cluster's controllers (workloads,
scheduler, kubelet), the Litmus operator and the mesh sync, writes a
kubeconfig, and returns once every ratings pod serves.
`env()` gives the variables experiments read (see `env.py`).
"""

from __future__ import annotations

import logging
import random
import shutil
import socket
import tempfile
import time
from pathlib import Path

from chaoslitmus.lab import env as lab_env
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.lab.kube.controllers import cluster_controllers
from chaoslitmus.lab.kube.schemas import default_crd_files
from chaoslitmus.lab.kubeconfig_file import KubeconfigFile
from chaoslitmus.lab.litmus.operator import litmus_controller
from chaoslitmus.lab.mesh.dataplane import DataPlane
from chaoslitmus.lab.mesh.envoy_stats import stats_port
from chaoslitmus.lab.options import KUBE_CONTEXT, LabError, LabOptions, degraded_marker
from chaoslitmus.lab.ports import reviews_socket
from chaoslitmus.lab.reset import reset_world
from chaoslitmus.lab.runner import ApiServerThread, kubeconfig_text, make_store

__all__ = ["Lab", "LabError", "LabOptions", "served_crd_files"]

log = logging.getLogger("chaoslitmus.lab")

_READY_TIMEOUT_S = 15.0


def served_crd_files(options: LabOptions) -> list[Path]:
    """The CRDs a cluster with this Litmus and only this mesh API would serve."""
    # Linkerd: its ServiceProfile CRD, and Gateway API's HTTPRoute (which
    # Linkerd reads for routes; it ignores their `retry`).
    gateway = {
        "gateway-api": options.gateway_api_channel,
        "linkerd": "standard",
    }.get(options.mesh)
    return default_crd_files(
        litmus=options.litmus,
        appmesh=(options.appmesh_api,) if options.mesh == "appmesh" else (),
        istio=options.mesh == "istio",
        gateway_api=gateway,
        linkerd=options.mesh == "linkerd",
    )


class Lab:
    """A running lab; `with Lab(options) as lab:` or `start()` / `stop()`."""

    def __init__(self, options: LabOptions | None = None) -> None:
        self.options = options or LabOptions()
        self.server: ApiServerThread | None = None
        self.dataplane: DataPlane | None = None
        self.kubeconfig: Path | None = None
        self.port_note: str | None = None
        self.ready_s: float | None = None
        self._tmpdir: str | None = None
        self._kubeconfig_file: KubeconfigFile | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Lab:
        if self.server is not None:
            return self
        began = time.perf_counter()
        options = self.options
        if options.kubeconfig:  # refused before anything starts
            self._kubeconfig_file = KubeconfigFile.claim(
                options.kubeconfig, force=options.force_kubeconfig
            )
        sock, self.port_note = reviews_socket(options.reviews_port)
        if self.port_note:
            log.warning("%s", self.port_note)
        try:
            self._start(sock)
        except BaseException:
            sock.close()
            self.stop()
            raise
        self.ready_s = time.perf_counter() - began
        log.info("lab ready in %.2fs", self.ready_s)
        log.info("%s", self.options.data_plane_model())
        return self

    def _start(self, sock: socket.socket) -> None:
        options = self.options
        store = make_store(served_crd_files(options))
        # Seeded before the server runs, so every controller's first list
        # already sees the whole world.
        world.seed(store, options)
        self.dataplane = DataPlane(
            options, reviews_socket=sock, pod_logs=store.logs
        ).launch()
        operator = litmus_controller(
            startup_s=options.litmus_startup_s,
            inject_delay_s=options.litmus_inject_delay_s,
            fault_sink=self.dataplane,
            rng=random.Random(options.seed),
        )
        self.server = ApiServerThread(
            store,
            lab_actions={"reset": lambda: reset_world(store, options)},
            controllers=[
                *cluster_controllers(pod_start_s=options.pod_start_s),
                self.dataplane.controller,
                operator,
            ],
        ).start()
        text = kubeconfig_text(
            self.server.url, namespace=options.namespace, context=KUBE_CONTEXT
        )
        if self._kubeconfig_file is not None:
            self.kubeconfig = self._kubeconfig_file.write(text)
        else:
            self._tmpdir = tempfile.mkdtemp(prefix="chaoslitmus-lab-")
            self.kubeconfig = Path(self._tmpdir) / "kubeconfig"
            self.kubeconfig.write_text(text, encoding="utf-8")
        self.dataplane.wait_ready(options.ratings_replicas, _READY_TIMEOUT_S)

    def stop(self) -> None:
        """Stop everything that started; safe to call twice."""
        server, self.server = self.server, None
        dataplane, self.dataplane = self.dataplane, None
        if server is not None:
            server.stop()
        if dataplane is not None:
            dataplane.shutdown()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
        if self._kubeconfig_file is not None:
            self._kubeconfig_file.release()

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> dict[str, list[str]]:
        """The world back as seeded (see `reset.py`); what changed."""
        server = self._running()[0]
        return server.call(reset_world, server.store, self.options)

    # ------------------------------------------------------------------- views

    def _running(self) -> tuple[ApiServerThread, DataPlane, Path]:
        if self.server is None or self.dataplane is None or self.kubeconfig is None:
            raise RuntimeError("the lab is not running")
        return self.server, self.dataplane, self.kubeconfig

    @property
    def reviews_url(self) -> str:
        """The URL of the story's `GET /reviews/0`."""
        return f"{self._running()[1].reviews_url}/reviews/0"

    @property
    def ratings_url(self) -> str:
        """ratings through the mesh proxy, as reviews calls it."""
        return f"{self._running()[1].proxy_url}/ratings/0"

    def endpoints(self) -> dict[str, str]:
        """Every URL a person may want: API, reviews, proxy, each ratings pod."""
        server, dataplane, _ = self._running()
        out = {
            "api server": server.url,
            "reviews": self.reviews_url,
            "ratings via mesh proxy": self.ratings_url,
        }
        for pod, port in sorted(dataplane.ratings_ports().items()):
            out[f"ratings pod {pod}"] = f"http://127.0.0.1:{port}/ratings/0"
        return out

    def env(self) -> dict[str, str]:
        """The variables experiments read (see `chaoslitmus.lab.env`)."""
        server, _, kubeconfig = self._running()
        options = self.options
        exported = {
            lab_env.KUBECONFIG: str(kubeconfig),
            lab_env.KUBERNETES_CONTEXT: KUBE_CONTEXT,
            lab_env.REVIEWS_URL: self.reviews_url,
            lab_env.REVIEWS_TIMEOUT_MS: str(options.reviews_timeout_ms),
            lab_env.RATINGS_REPLICAS: str(options.ratings_replicas),
            lab_env.CHAOSLITMUS_NAMESPACE: options.namespace,
            lab_env.CHAOSLITMUS_MESH: options.mesh,
            lab_env.CHAOSLITMUS_MESH_API_VERSION: options.mesh_api_version,
            lab_env.CHAOSLITMUS_MESH_OBJECT: world.mesh_object(options),
            lab_env.CHAOSLITMUS_RATINGS_ROUTE: world.RATINGS_ROUTE,
            lab_env.CHAOSLITMUS_RATINGS_LABEL: f"app={world.RATINGS_APP}",
            lab_env.CHAOSLITMUS_RATINGS_URL: self.ratings_url,
            lab_env.CHAOSLITMUS_STATS_PORT: str(
                stats_port(options.mesh, options.gateway_api_implementation)
            ),
            lab_env.CHAOSLITMUS_LAB_API: server.url,
        }
        marker = degraded_marker(options)
        if marker:  # experiments then judge reviews' bodies, not only statuses
            exported[lab_env.REVIEWS_DEGRADED_MARKER] = marker
        return exported
