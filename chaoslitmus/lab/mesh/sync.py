"""The control-plane half of the data plane, on the API server's loop.

It list-watches the namespace's pods, Services and mesh objects in the Store
(relisting after a 410), binds a loopback socket for every Ready ratings pod
and writes its port into the pod annotation `lab.chaoslitmus.io/port`, turns
the mesh objects into Envoy routes (`routes.py`), logs one readable line
whenever a route's effective retry policy changes, and sends the result to
the data plane thread as a `Push`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from chaoslitmus.lab.bookinfo import world
from chaoslitmus.lab.mesh.envoy import RouteTable
from chaoslitmus.lab.mesh.propagation import observed_status
from chaoslitmus.lab.mesh.routes import route_table
from chaoslitmus.lab.options import Flavour, LabOptions
from chaoslitmus.lab.ports import bind_loopback

if TYPE_CHECKING:
    from chaoslitmus.lab.kube.store import Store

__all__ = ["PORT_ANNOTATION", "MeshSync", "Push", "mesh_resources"]

log = logging.getLogger("chaoslitmus.lab")

PORT_ANNOTATION = "lab.chaoslitmus.io/port"
PODS = "v1/pods"
SERVICES = "v1/services"
RATINGS_LABELS = {"app": world.RATINGS_APP}
REVIEWS_LABELS = {"app": world.REVIEWS_APP}
_RELIST_PAUSE_S = 0.5


def mesh_resources(flavour: Flavour) -> dict[str, str]:
    """Store resource keys of the mesh objects a flavour's control plane reads."""
    if flavour == "istio":
        return {"virtualservices": f"{world.ISTIO_API_VERSION}/virtualservices"}
    if flavour == "appmesh-v1beta1":
        return {"virtualservices": f"{world.APPMESH_V1BETA1}/virtualservices"}
    if flavour == "gateway-api":
        return {"httproutes": f"{world.GATEWAY_API_VERSION}/httproutes"}
    if flavour == "linkerd":
        return {
            "httproutes": f"{world.GATEWAY_API_VERSION}/httproutes",
            "serviceprofiles": f"{world.LINKERD_SP_VERSION}/serviceprofiles",
        }
    return {
        kind: f"{world.APPMESH_V1BETA2}/{kind}"
        for kind in ("virtualservices", "virtualrouters", "virtualnodes")
    }


@dataclass(frozen=True)
class Push:
    """What the API-side sync hands to the data plane thread."""

    table: RouteTable
    serving: Mapping[str, Mapping[str, str]]  # ratings pod -> labels
    sockets: Mapping[str, socket.socket]  # ratings pod -> its new socket
    reviews_pod: str


class MeshSync:
    """The control-plane side: Store watches -> sockets, annotations, routes.

    `send` hands a `Push` to the data plane thread; `reviews_port` is where
    the reviews server listens (written into the reviews pods' annotation).
    """

    def __init__(
        self,
        options: LabOptions,
        store: Store,
        send: Callable[[Push], None],
        reviews_port: int,
    ) -> None:
        self.options = options
        self.store = store
        self.send = send
        self.reviews_port = reviews_port
        self.cache: dict[str, dict[str, dict[str, Any]]] = {}
        self.resources = {
            "pods": PODS,
            "services": SERVICES,
            **mesh_resources(self.options.flavour),
        }
        self._ports: dict[str, int] = {}
        self._routes: dict[str, str] = {}
        self._problems: set[str] = set()
        self._missing: set[str] = set()
        # Route changes reach the proxy after options.mesh_propagation_ms.
        self._applied: RouteTable | None = None
        self._applied_lines: dict[str, str] = {}
        self._pending: asyncio.TimerHandle | None = None
        self._pending_lines: dict[str, str] | None = None
        self._serving: dict[str, dict[str, str]] = {}
        self._reviews = ""

    async def run(self) -> None:
        tasks = [
            asyncio.ensure_future(self._follow(kind, key))
            for kind, key in self.resources.items()
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, kind: str, key: str) -> None:
        """List, then watch from the list's version; relist on expiry."""
        namespace = self.options.namespace
        while True:
            try:
                items, version = self.store.list(key, namespace)
            except Exception as exc:  # not served (yet): the mesh is absent
                if key not in self._missing:
                    self._missing.add(key)
                    log.warning("data plane: cannot list %s (%s)", key, exc)
                self.cache[kind] = {}
                self._changed()
                await asyncio.sleep(_RELIST_PAUSE_S * 4)
                continue
            self._missing.discard(key)
            self.cache[kind] = {o["metadata"]["name"]: o for o in items}
            self._changed()
            try:
                async for event_type, obj in self.store.watch(
                    key, namespace, resource_version=version
                ):
                    name = obj["metadata"]["name"]
                    if event_type == "DELETED":
                        self.cache[kind].pop(name, None)
                    elif event_type in ("ADDED", "MODIFIED"):
                        self.cache[kind][name] = obj
                    self._changed()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # 410 Expired and the like: relist
                log.debug("data plane: watch of %s ended (%s); relisting", key, exc)
            await asyncio.sleep(_RELIST_PAUSE_S)

    # ------------------------------------------------------------------ changes

    def _changed(self) -> None:
        if any(kind not in self.cache for kind in self.resources):
            return  # wait for the first list of every kind
        pods = self.cache["pods"]
        serving = {
            name: dict(_labels(pod))
            for name, pod in pods.items()
            if _matches(pod, RATINGS_LABELS) and _serving(pod)
        }
        for name in [n for n in self._ports if n not in serving]:
            del self._ports[name]
        sockets: dict[str, socket.socket] = {}
        for name in sorted(serving):
            if name in self._ports:
                continue
            sock = bind_loopback(0)
            sockets[name] = sock
            self._ports[name] = sock.getsockname()[1]
            log.info(
                "data plane: ratings pod %s serves on 127.0.0.1:%d (containerPort %d)",
                name,
                self._ports[name],
                world.SERVICE_PORT,
            )
        reviews_pods = sorted(
            name
            for name, pod in pods.items()
            if _matches(pod, REVIEWS_LABELS) and _serving(pod)
        )
        table = route_table(
            self.options.flavour,
            self.options.namespace,
            world.RATINGS_SERVICE,
            {kind: list(self.cache.get(kind, {}).values()) for kind in self.resources},
            previous_hosts=self.options.retry_host_predicate == "previous_hosts",
            gateway_api_implementation=self.options.gateway_api_implementation,
        )
        self._serving = serving
        self._reviews = reviews_pods[0] if reviews_pods else ""
        self._route_change(table)
        assert self._applied is not None
        self.send(Push(self._applied, serving, sockets, self._reviews))
        wanted = {**self._ports, **{p: self.reviews_port for p in reviews_pods}}
        self._annotate(pods, wanted)

    def _route_change(self, table: RouteTable) -> None:
        """Apply a new route table now, or after the propagation delay."""
        lines = {route.name: route.describe() for route in table.routes}
        generations = self._generations()
        delay_s = self.options.mesh_propagation_ms / 1000.0
        if self._applied is None or delay_s <= 0 or lines == self._applied_lines:
            self._cancel_pending()
            self._apply_table(table, lines, generations)
        elif lines != self._pending_lines:
            self._cancel_pending()
            self._pending_lines = lines
            self._pending = asyncio.get_running_loop().call_later(
                delay_s, self._promote, table, lines, generations
            )

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        self._pending, self._pending_lines = None, None

    def _promote(
        self,
        table: RouteTable,
        lines: dict[str, str],
        generations: dict[tuple[str, str], int],
    ) -> None:
        self._pending, self._pending_lines = None, None
        self._apply_table(table, lines, generations)
        self.send(Push(table, self._serving, {}, self._reviews))

    def _apply_table(
        self,
        table: RouteTable,
        lines: dict[str, str],
        generations: dict[tuple[str, str], int],
    ) -> None:
        self._log_routes(table)
        self._applied, self._applied_lines = table, lines
        self._report_observed(generations)

    def _generations(self) -> dict[tuple[str, str], int]:
        """(store key, name) -> generation of every mesh object, now."""
        out = {}
        for kind, key in self.resources.items():
            if key in (PODS, SERVICES):
                continue
            for name, obj in self.cache.get(kind, {}).items():
                out[(key, name)] = int(obj["metadata"].get("generation") or 1)
        return out

    def _report_observed(self, generations: dict[tuple[str, str], int]) -> None:
        """Write the controller's status: this generation is in the proxies."""
        namespace = self.options.namespace
        for (key, name), generation in generations.items():
            try:
                current = self.store.get(key, namespace, name)
            except Exception:
                continue  # deleted meanwhile
            status = dict(current.get("status") or {})
            if not observed_status(
                status,
                self.options.flavour,
                current.get("kind", ""),
                generation,
                _now(),
                spec=current.get("spec"),
                implementation=self.options.gateway_api_implementation,
            ):
                continue
            body = {**current, "status": status}
            try:
                self.store.replace(key, namespace, name, body, subresource="status")
            except Exception as exc:
                log.debug("mesh: could not write the status of %s: %s", name, exc)

    def _annotate(
        self, pods: Mapping[str, dict[str, Any]], ports: Mapping[str, int]
    ) -> None:
        """Record each serving pod's loopback port on the pod (kubectl shows it)."""
        for name, port in ports.items():
            annotations = pods[name]["metadata"].get("annotations") or {}
            if annotations.get(PORT_ANNOTATION) == str(port):
                continue
            patch = {"metadata": {"annotations": {PORT_ANNOTATION: str(port)}}}
            try:
                self.store.patch(PODS, self.options.namespace, name, patch)
            except Exception as exc:
                log.debug("data plane: could not annotate pod %s: %s", name, exc)

    def _log_routes(self, table: RouteTable) -> None:
        """One readable line per route whose effective policy changed."""
        lines = {route.name: route.describe() for route in table.routes}
        for name, line in lines.items():
            if self._routes.get(name) != line:
                log.info("mesh: %s", line)
        for name in self._routes.keys() - lines.keys():
            log.info("mesh: route %s removed", name)
        for problem in set(table.problems) - self._problems:
            log.warning("mesh: %s", problem)
        self._routes = lines
        self._problems = set(table.problems)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _matches(obj: Mapping[str, Any], wanted: Mapping[str, str]) -> bool:
    labels = _labels(obj)
    return all(labels.get(k) == v for k, v in wanted.items())


def _serving(pod: Mapping[str, Any]) -> bool:
    """Ready and not terminating: what an endpoints controller would publish."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    conditions: Iterable[Mapping[str, Any]] = (pod.get("status") or {}).get(
        "conditions"
    ) or []
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
    )
