"""Which hosts the caller's Envoy sees, and the connections it keeps to them.

Pure bookkeeping, no sockets. Facts in docs/mesh-behaviour.md ("Balancing
and discovery"):

* `endpoints` (App Mesh with Cloud Map or a headless Service, Istio): every
  ratings pod is an Envoy host; a connection goes to the host it was opened
  for.
* `dns` (App Mesh DNS discovery on a ClusterIP Service, the original
  workshop): Envoy sees ONE host, the Service's ClusterIP; kube-proxy picks
  a ready pod at random for each new TCP connection, and every request on
  that connection reaches that pod. previous_hosts cannot steer a retry:
  there is only one host.
* Envoy pools HTTP/1.1 connections per host and reuses an idle one before
  opening another (the most recently used first); a try that ends early (a
  per-try timeout, a reset, the caller going away) resets its stream, and
  an HTTP/1.1 connection with an unfinished response cannot be reused, so
  it is closed. `max_requests_per_connection` (Envoy cluster option; Istio
  DestinationRule `connectionPool.http.maxRequestsPerConnection`; 0 means
  unlimited, the default) closes a connection after that many requests:
  1 turns keep-alive off, so every try opens a connection.
* A connection being set up when the request waiting for it goes away is
  kept and joins the pool once ready (Envoy's default cancel policy for a
  pending stream; unconfirmed for the router's path).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CLUSTER_IP_HOST", "Connection", "ConnectionPool", "envoy_hosts"]

# The one host a DNS-discovered ratings has: its Service's ClusterIP name.
CLUSTER_IP_HOST = "ratings-clusterip"


def envoy_hosts(discovery: str, pods: Sequence[str]) -> list[str]:
    """The hosts the caller's Envoy balances over."""
    if discovery == "dns":
        return [CLUSTER_IP_HOST] if pods else []
    return list(pods)


@dataclass(frozen=True)
class Connection:
    """One upstream TCP connection: the Envoy host it belongs to, the pod
    it really reaches."""

    number: int
    host: str
    pod: str
    requests: int = 0


class ConnectionPool:
    """Idle connections per host; kube-proxy's random pod choice for new ones."""

    def __init__(
        self, rng: random.Random, max_requests_per_connection: int = 0
    ) -> None:
        self._rng = rng
        self.max_requests = max_requests_per_connection
        self._idle: dict[str, list[Connection]] = {}
        self._numbers = itertools.count(1)
        self.opened = 0

    def take_idle(self, host: str, pods: Sequence[str]) -> Connection | None:
        """The most recently used idle connection whose pod still serves."""
        idle = self._idle.get(host, [])
        while idle:
            connection = idle.pop()
            if connection.pod in pods:
                return connection
        return None

    def open(self, host: str, pods: Sequence[str]) -> Connection:
        """A new connection: to the host's own pod, or (behind a ClusterIP)
        to a pod kube-proxy draws at random."""
        if not pods:
            raise ValueError("no pods behind this host")
        pod = host if host in pods else pods[self._rng.randrange(len(pods))]
        self.opened += 1
        return Connection(next(self._numbers), host, pod)

    def release(self, connection: Connection, served: int = 1) -> None:
        """A try ended with a whole response (`served` 1) or a connection
        finished its set-up for nobody (0): reuse it, unless it has served
        max_requests_per_connection requests."""
        used = connection.requests + served
        if self.max_requests and used >= self.max_requests:
            return
        kept = Connection(connection.number, connection.host, connection.pod, used)
        self._idle.setdefault(connection.host, []).append(kept)

    def idle_count(self, host: str) -> int:
        return len(self._idle.get(host, []))
