"""netem as Litmus' pod-network-latency sets it: which packets it delays.

Pure rules; the data plane sleeps where they say. Facts in
docs/mesh-behaviour.md ("netem in the lab"):

* The qdisc sits on the target pod's eth0, so it delays everything the pod
  *sends* to another pod: its responses, the SYN-ACK of a connection
  another pod opens to it, and its own outbound calls (requests and SYNs).
  Traffic between an app and its own sidecar is loopback: not delayed.
* DESTINATION_HOSTS / DESTINATION_IPS (comma-separated) limit the delay to
  packets sent to those peers; empty means every peer. Litmus resolves host
  names to IPs, for meshed pods a Service name to its pods' IPs.
* Jitter: `delay L J` without a distribution table draws uniformly from
  [L - J, L + J] (never below 0).
* One qdisc per interface: two faults on one pod do not add up; the larger
  delay wins.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["PEER_HEADER", "Destinations", "Peer", "destinations", "sample_delay_ms"]

# Set by the mesh proxy (the caller's sidecar): "app/pod" of the calling pod,
# so a server knows whom its response goes to (DESTINATION filters).
PEER_HEADER = "x-lab-peer"


@dataclass(frozen=True)
class Peer:
    """Who a packet goes to: the names and IPs that identify that pod.

    `Peer.outside()` is a client outside the cluster (the probe): it has no
    name a DESTINATION filter could list, so only unfiltered faults reach it.
    """

    names: frozenset[str] = frozenset()
    ips: frozenset[str] = frozenset()

    @classmethod
    def outside(cls) -> Peer:
        return cls()

    @classmethod
    def pod(cls, name: str, app: str, namespace: str, ip: str = "127.0.0.1") -> Peer:
        """A pod, known by its name, its Service's names and its IP."""
        service = {app, f"{app}.{namespace}", f"{app}.{namespace}.svc"}
        service.add(f"{app}.{namespace}.svc.cluster.local")
        return cls(frozenset({name, *service}), frozenset({ip}))


@dataclass(frozen=True)
class Destinations:
    """A fault's DESTINATION_HOSTS / DESTINATION_IPS; both empty: every peer."""

    hosts: frozenset[str] = frozenset()
    ips: tuple[str, ...] = ()

    @property
    def everyone(self) -> bool:
        return not self.hosts and not self.ips

    def reach(self, peer: Peer) -> bool:
        """Whether packets to this peer are delayed."""
        if self.everyone:
            return True
        if self.hosts & peer.names:
            return True
        return any(_in_network(ip, net) for ip in peer.ips for net in self.ips)


def destinations(hosts: object = "", ips: object = "") -> Destinations:
    """Parse the env values (comma-separated strings, or lists)."""
    return Destinations(frozenset(_items(hosts)), tuple(_items(ips)))


def sample_delay_ms(latency_ms: float, jitter_ms: float, rng: random.Random) -> float:
    """One packet's delay: uniform in latency +/- jitter, never negative."""
    if jitter_ms <= 0:
        return max(0.0, float(latency_ms))
    return max(0.0, latency_ms + rng.uniform(-jitter_ms, jitter_ms))


def _items(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        parts: Iterable[object] = value.split(",")
    elif isinstance(value, Iterable):
        parts = value
    else:
        return []
    return [str(p).strip() for p in parts if str(p).strip()]


def _in_network(ip: str, net: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(net, strict=False)
    except ValueError:
        return ip == net
