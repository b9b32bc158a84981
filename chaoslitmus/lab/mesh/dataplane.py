"""The lab's data plane: real HTTP servers for the world's pods, and the mesh.

`DataPlane` owns its own thread and event loop, so traffic never competes
with the API server: one aiohttp server per Ready ratings pod, the reviews
server, and the mesh proxy that reviews calls. Its other half, `MeshSync`
(`sync.py`), runs on the API server's loop and sends it what the Store
says (pods, sockets, routes).

It is the Litmus operator's `FaultSink`: a latency fault delays the named
pods' responses until it stops; a deleted (or not Ready) pod's server is
closed, so connections to it are refused until its replacement is Ready and
gets a server of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from chaoslitmus.lab.bookinfo import world
from chaoslitmus.lab.bookinfo.apps import LatencyFaults, ratings_app, reviews_app
from chaoslitmus.lab.kube import podproxy
from chaoslitmus.lab.mesh import linkerd_stats
from chaoslitmus.lab.mesh.accesslog import access_logging
from chaoslitmus.lab.mesh.envoy import RouteTable
from chaoslitmus.lab.mesh.envoy_stats import (
    STATS_PATH,
    render_prometheus,
    stats_port,
)
from chaoslitmus.lab.mesh.netem import destinations
from chaoslitmus.lab.mesh.proxy import Host, MeshProxy
from chaoslitmus.lab.mesh.sync import PORT_ANNOTATION, MeshSync, Push
from chaoslitmus.lab.mesh.upstreams import Upstreams
from chaoslitmus.lab.options import LabOptions
from chaoslitmus.lab.ports import bind_loopback

if TYPE_CHECKING:
    from chaoslitmus.lab.kube.podlogs import PodLogs
    from chaoslitmus.lab.kube.store import Store

__all__ = ["PORT_ANNOTATION", "DataPlane"]

log = logging.getLogger("chaoslitmus.lab")

_SHUTDOWN_TIMEOUT_S = 0.2


@dataclass
class _Server:
    runner: web.AppRunner
    port: int
    labels: Mapping[str, str]


class DataPlane:
    """Ratings replicas, reviews and the mesh proxy on their own thread.

    Use `launch()` / `shutdown()` (or `with`); pass `controller` to
    `ApiServerThread(controllers=[...])` and the DataPlane itself as the
    Litmus operator's `fault_sink`.
    """

    def __init__(
        self,
        options: LabOptions | None = None,
        reviews_socket: socket.socket | None = None,
        pod_logs: PodLogs | None = None,
    ) -> None:
        self.options = options or LabOptions()
        self.pod_logs = pod_logs
        rng = random.Random(self.options.seed)
        self.faults = LatencyFaults(random.Random(rng.getrandbits(64)))
        upstreams = Upstreams(
            random.Random(rng.getrandbits(64)),
            discovery=self.options.discovery,
            balancer=self.options.balancer,
            namespace=self.options.namespace,
            caller=lambda: (world.REVIEWS_APP, self._reviews_pod),
            delay_ms=self.faults.delay_ms,
            delay_connection_setup=self.options.netem_connection_setup,
            max_requests_per_connection=self.options.max_requests_per_connection,
        )
        self.proxy = MeshProxy(random.Random(rng.getrandbits(64)), upstreams=upstreams)
        self.served: Counter[str] = Counter()
        self.loop = asyncio.new_event_loop()
        self._reviews_socket = reviews_socket
        self._proxy_socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._servers: dict[str, _Server] = {}
        self._retired: set[str] = set()  # deleted pods: never served again
        self._runners: list[web.AppRunner] = []
        self._queue: asyncio.Queue[Push | str | None] | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._state = threading.Condition()
        self._table = RouteTable()
        self._ports: dict[str, int] = {}
        self._reviews_pod = ""
        self.reviews_port = 0
        self.proxy_port = 0

    # ---------------------------------------------------------------- lifecycle

    def launch(self) -> DataPlane:
        """Start the loop thread with reviews and the proxy listening."""
        if self._thread is not None:
            return self
        self._proxy_socket = bind_loopback(0)
        if self._reviews_socket is None:
            self._reviews_socket = bind_loopback(0)
        self.proxy_port = self._proxy_socket.getsockname()[1]
        self.reviews_port = self._reviews_socket.getsockname()[1]
        started = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(self._startup())
            except BaseException as exc:  # reported to launch()
                errors.append(exc)
                started.set()
                return
            started.set()
            self.loop.run_forever()
            self.loop.run_until_complete(self._cleanup())
            self.loop.close()

        self._thread = threading.Thread(
            target=run, name="chaoslitmus-dataplane", daemon=True
        )
        self._thread.start()
        started.wait(15)
        if errors:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"the lab data plane could not start: {errors[0]}")
        log.info(
            "data plane: reviews on 127.0.0.1:%d, mesh proxy on 127.0.0.1:%d",
            self.reviews_port,
            self.proxy_port,
        )
        return self

    def shutdown(self) -> None:
        """Close every server and stop the thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        thread.join(timeout=10)

    def __enter__(self) -> DataPlane:
        return self.launch()

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    # ------------------------------------------------------------------- views

    @property
    def reviews_url(self) -> str:
        return f"http://127.0.0.1:{self.reviews_port}"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def ratings_ports(self) -> dict[str, int]:
        """Serving ratings pods and their loopback ports."""
        with self._state:
            return dict(self._ports)

    @property
    def reviews_pod(self) -> str:
        """The reviews pod the data plane serves as now ("" before the first push)."""
        return self._reviews_pod

    def route_table(self) -> RouteTable:
        with self._state:
            return self._table

    def wait_ready(self, ratings: int, timeout_s: float = 10.0) -> None:
        """Block until `ratings` pods serve and the mesh routes are loaded."""

        def ready() -> bool:
            return len(self._ports) >= ratings and bool(self._table.routes)

        with self._state:
            if not self._state.wait_for(ready, timeout_s):
                raise RuntimeError(
                    f"the lab data plane is not ready after {timeout_s:g}s: "
                    f"{len(self._ports)}/{ratings} ratings pods serving, "
                    f"{len(self._table.routes)} mesh route(s)"
                )

    # --------------------------------------------------------------- FaultSink

    def start_latency(
        self,
        fault_id: str,
        namespace: str,
        pod_names: list[str],
        latency_ms: int,
        jitter_ms: int,
        destination_hosts: str = "",
        destination_ips: str = "",
    ) -> None:
        """Delay what these pods send by latency +/- jitter (uniform): their
        responses, connection set-ups and outbound calls, to every peer or
        only to the DESTINATION_HOSTS / DESTINATION_IPS given."""
        to = destinations(destination_hosts, destination_ips)
        self.faults.start(fault_id, namespace, pod_names, latency_ms, jitter_ms, to)
        log.info(
            "data plane: egress of %s/%s now delayed %d±%d ms (to %s)",
            namespace,
            ",".join(pod_names),
            latency_ms,
            jitter_ms,
            "every peer" if to.everyone else ",".join([*sorted(to.hosts), *to.ips]),
        )

    def stop(self, fault_id: str) -> None:
        if self.faults.stop(fault_id):
            log.info("data plane: latency fault %s removed", fault_id)

    def pod_deleted(self, namespace: str, pod: str) -> None:
        """Close the pod's server at once (the watch would, a moment later)."""
        if namespace == self.options.namespace:
            self.send(pod)

    # ------------------------------------------------------- API-loop controller

    async def controller(self, store: Store) -> None:
        """Keep the data plane in line with the Store (run on the API loop)."""
        podproxy.register(store, self.pod_proxy)
        await MeshSync(self.options, store, self.send, self.reviews_port).run()

    def pod_proxy(
        self, namespace: str, pod: str, port: int, path: str
    ) -> tuple[int, str, str] | None:
        """The reviews pod's sidecar stats port, reached through pods/proxy."""
        if namespace != self.options.namespace or pod != self._reviews_pod:
            return None
        if self.options.mesh == "linkerd":
            if port != stats_port("linkerd", ""):
                return None
            if path.strip("/") != linkerd_stats.STATS_PATH:
                return 404, "text/plain", f"no such path /{path} on the admin port\n"
            text = linkerd_stats.render(
                self.proxy.upstream.snapshot(),
                self.options.namespace,
                world.RATINGS_SERVICE,
                world.SERVICE_PORT,
            )
            return 200, "text/plain", text
        if port != stats_port(
            self.options.mesh, self.options.gateway_api_implementation
        ):
            return None
        if path.strip("/") != STATS_PATH:
            return 404, "text/plain", f"no such path /{path} on the stats port\n"
        return 200, "text/plain", render_prometheus(self.proxy.upstream.snapshot())

    def send(self, item: Push | str) -> None:
        """Hand a push (or the name of a pod to close) to the data plane
        thread; safe from any thread."""
        queue = self._queue
        if queue is None or self.loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop closing
            self.loop.call_soon_threadsafe(queue.put_nowait, item)

    # ------------------------------------------------------ data plane thread

    async def _startup(self) -> None:
        self._queue = asyncio.Queue()
        assert self._proxy_socket is not None and self._reviews_socket is not None
        await self._serve(self.proxy.app(), self._proxy_socket)
        reviews = reviews_app(
            self.options.namespace,
            lambda: self._reviews_pod,
            self.faults,
            self.proxy_url,
            self.options.reviews_timeout_ms,
            self.options.reviews_on_ratings_error,
        )
        await self._serve(reviews, self._reviews_socket, lambda: self._reviews_pod)
        self._consumer = asyncio.ensure_future(self._consume())

    async def _serve(
        self,
        app: web.Application,
        sock: socket.socket,
        pod: Callable[[], str] | None = None,
    ) -> web.AppRunner:
        logs = access_logging(self.pod_logs, self.options.namespace, pod)
        runner = web.AppRunner(
            app,
            handle_signals=False,
            handler_cancellation=True,
            shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
            **logs,
        )
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runners.append(runner)
        return runner

    async def _consume(self) -> None:
        assert self._queue is not None
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, str):
                    self._retired.add(item)
                    await self._close(item)
                    self._publish()
                elif item is not None:
                    await self._apply(item)
            except Exception:  # keep serving whatever one push did
                log.exception("data plane: could not apply a change")

    async def _apply(self, push: Push) -> None:
        for pod in [p for p in self._servers if p not in push.serving]:
            await self._close(pod)
        for pod, sock in push.sockets.items():
            if pod in self._servers or pod in self._retired:
                sock.close()
                continue
            runner = await self._serve(
                ratings_app(self.options.namespace, pod, self.faults, self.served),
                sock,
                lambda name=pod: name,
            )
            self._log(pod, f"ratings listening on 0.0.0.0:{world.SERVICE_PORT}")
            self._servers[pod] = _Server(
                runner, sock.getsockname()[1], push.serving[pod]
            )
        if push.reviews_pod and push.reviews_pod != self._reviews_pod:
            self._log(
                push.reviews_pod, f"reviews listening on 0.0.0.0:{world.SERVICE_PORT}"
            )
        self._reviews_pod = push.reviews_pod
        self.proxy.configure(
            push.table,
            {pod: Host(s.port, s.labels) for pod, s in self._servers.items()},
        )
        with self._state:
            self._table = push.table
        self._publish()

    def _log(self, pod: str, line: str) -> None:
        if self.pod_logs is not None:
            self.pod_logs.write(self.options.namespace, pod, line)

    async def _close(self, pod: str) -> None:
        server = self._servers.pop(pod, None)
        if server is None:
            return
        self.proxy.drop_host(pod)
        self._runners.remove(server.runner)
        await server.runner.cleanup()
        log.info("data plane: ratings pod %s stopped serving", pod)

    def _publish(self) -> None:
        with self._state:
            self._ports = {pod: s.port for pod, s in self._servers.items()}
            self._state.notify_all()

    async def _cleanup(self) -> None:
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        self._servers.clear()
