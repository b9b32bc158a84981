"""The proxy's view of its upstreams: discovery, balancing, pooled
connections and the netem delays each try pays. No I/O: the proxy asks,
then sleeps and sends.

A try goes: pick an Envoy host (round robin or least request, with the
previous_hosts predicate on retries), take an idle pooled connection to it
or open a new one (behind a ClusterIP, to a random pod), pay the
connection set-up delay if new (before the per-try timer starts, as Envoy
starts it when the pool hands over a ready connection), then send: the
request pays the caller's egress delay inside the per-try timer, the
response pays the callee's (applied by the callee's server).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from chaoslitmus.lab.mesh.balancers import least_request_pick, pick_with_predicate
from chaoslitmus.lab.mesh.discovery import Connection, ConnectionPool, envoy_hosts
from chaoslitmus.lab.mesh.envoy import pick_host
from chaoslitmus.lab.mesh.netem import Peer

__all__ = ["Upstreams"]

# Who delays what: (namespace, pod, peer) -> ms for one packet.
DelayFn = Callable[[str, str, Peer | None], float]


def _no_delay(namespace: str, pod: str, peer: Peer | None) -> float:
    return 0.0


class Upstreams:
    """Discovery + balancer + connection pool of one caller's Envoy."""

    def __init__(
        self,
        rng: random.Random,
        discovery: str = "endpoints",
        balancer: str = "round-robin",
        namespace: str = "bookinfo",
        caller: Callable[[], tuple[str, str]] = lambda: ("", ""),
        delay_ms: DelayFn = _no_delay,
        delay_connection_setup: bool = True,
        max_requests_per_connection: int = 0,
    ) -> None:
        self.rng = rng
        self.discovery = discovery
        self.balancer = balancer
        self.namespace = namespace
        self.caller = caller  # (app, pod) of the pod this sidecar runs in
        self.delay_ms = delay_ms
        self.delay_connection_setup = delay_connection_setup
        self.pool = ConnectionPool(
            random.Random(rng.getrandbits(64)), max_requests_per_connection
        )
        self.active: Counter[str] = Counter()  # requests in flight per host
        self._rr: dict[str, int] = {}

    def pick(
        self,
        cluster: str,
        pods: Sequence[str],
        tried_hosts: Sequence[str],
        previous_hosts: bool,
        max_attempts: int,
        random_choice: bool = False,
    ) -> str | None:
        """The Envoy host for the next try; None when there is none.

        `random_choice`: every try draws a host again, the failed one included
        (Linkerd's retries; see other_meshes.py)."""
        hosts = envoy_hosts(self.discovery, pods)
        if not hosts:
            return None
        if random_choice:
            return self.rng.choice(hosts)
        if self.balancer == "least-request":
            return pick_with_predicate(
                lambda: least_request_pick(hosts, self.active, self.rng),
                tried_hosts,
                previous_hosts,
                max_attempts,
            )
        host, self._rr[cluster] = pick_host(
            hosts, self._rr.get(cluster, 0), tried_hosts, previous_hosts, max_attempts
        )
        return host

    def connection(self, host: str, pods: Sequence[str]) -> tuple[Connection, float]:
        """A pooled connection (set-up 0 ms) or a new one and its set-up delay:
        the caller's SYN and the callee's SYN-ACK both cross netem."""
        idle = self.pool.take_idle(host, pods)
        if idle is not None:
            return idle, 0.0
        connection = self.pool.open(host, pods)
        if not self.delay_connection_setup:
            return connection, 0.0
        pod = connection.pod
        return connection, self.outbound_ms(pod) + self.inbound_ms(pod)

    def outbound_ms(self, pod: str) -> float:
        """Delay of a packet the caller sends to `pod` (the caller's fault)."""
        app, name = self.caller()
        if not name:
            return 0.0
        return self.delay_ms(self.namespace, name, self.peer(pod))

    def inbound_ms(self, pod: str) -> float:
        """Delay of a packet `pod` sends back to the caller (the callee's fault)."""
        return self.delay_ms(self.namespace, pod, self.caller_peer())

    def caller_peer(self) -> Peer | None:
        app, name = self.caller()
        return Peer.pod(name, app, self.namespace) if name else None

    def peer(self, pod: str, labels: Mapping[str, str] | None = None) -> Peer:
        app = (labels or {}).get("app") or pod.split("-")[0]
        return Peer.pod(pod, app, self.namespace)
