"""Envoy's router decisions, as pure functions, for the lab's mesh proxy.

The proxy (`proxy.py`) does the I/O; every choice it makes comes from here so
each one can be tested without a socket: which attempt outcome is retried
under which `retry_on` set, how long the back-off is, which host the next try
goes to, which route a request takes. The semantics follow Envoy's
`router_filter` and `retry_state_impl` as summarised in
`shared/reference/mesh/FACTS.md` section 3:

* `5xx` retries any 5xx response and any try that got no response at all
  (connect failure, reset, per-try timeout); `gateway-error` does the same
  for 502/503/504 responses; `reset` retries tries that got no response;
  `connect-failure` and `refused-stream` only those; `retriable-4xx` only
  409; `retriable-status-codes` the exact codes listed. A per-try timeout is
  retried only under `5xx`, `gateway-error` or `reset`.
* Back-off is full-jitter exponential: retry N waits uniform
  [0, min(cap, (2^N - 1) * base)), base 25 ms and cap 10 * base by default.
* Hosts are chosen round-robin per cluster; with the `previous_hosts`
  predicate a retry re-picks (up to `host_selection_max_attempts` times)
  while the pick is a host this request already tried, then takes the last
  pick anyway.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "Cluster",
    "Match",
    "Outcome",
    "OutcomeKind",
    "RetryPolicy",
    "Route",
    "RouteTable",
    "backoff_ceiling_ms",
    "backoff_ms",
    "choose_cluster",
    "endpoints",
    "final_reply",
    "pick_host",
    "should_retry",
]

# Envoy retry_on tokens that also retry attempts which got no response.
NO_RESPONSE_TOKENS = frozenset({"5xx", "gateway-error", "reset"})
GATEWAY_STATUSES = frozenset({502, 503, 504})


class OutcomeKind(Enum):
    """How one upstream try ended."""

    RESPONSE = "response"  # headers and body came back (any status)
    PER_TRY_TIMEOUT = "per-try-timeout"  # Envoy resets the try locally
    CONNECT_FAILURE = "connect-failure"  # refused / unreachable
    RESET = "reset"  # the connection dropped before a full response
    REFUSED_STREAM = "refused-stream"  # HTTP/2 REFUSED_STREAM


@dataclass(frozen=True)
class Outcome:
    """One try's result; `status` is set for RESPONSE only."""

    kind: OutcomeKind
    status: int | None = None

    @classmethod
    def response(cls, status: int) -> Outcome:
        return cls(OutcomeKind.RESPONSE, status)


@dataclass(frozen=True)
class RetryPolicy:
    """An Envoy route `retry_policy`, plus a line saying where it came from.

    `num_retries` counts retries after the first try. `per_try_timeout_ms`
    None means no per-try limit (only the route timeout applies).
    """

    num_retries: int
    retry_on: frozenset[str]
    retriable_status_codes: frozenset[int] = frozenset()
    per_try_timeout_ms: float | None = None
    previous_hosts: bool = True
    host_selection_max_attempts: int = 5
    backoff_base_ms: float = 25.0
    backoff_max_ms: float = 250.0
    summary: str = ""

    @classmethod
    def none(cls, summary: str = "no retries") -> RetryPolicy:
        return cls(num_retries=0, retry_on=frozenset(), summary=summary)


@dataclass(frozen=True)
class Cluster:
    """A weighted target: the pods `selector` picks (None: unresolved, no hosts)."""

    name: str
    weight: int
    selector: tuple[tuple[str, str], ...] | None

    @classmethod
    def of(cls, name: str, weight: int, labels: Mapping[str, str] | None) -> Cluster:
        selector = None if labels is None else tuple(sorted(labels.items()))
        return cls(name, weight, selector)


@dataclass(frozen=True)
class Match:
    """A route match on the path (one of prefix/exact/regex) and the method."""

    prefix: str | None = "/"
    exact: str | None = None
    regex: str | None = None
    method: str | None = None

    def matches(self, path: str, method: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        if self.exact is not None:
            return path == self.exact
        if self.regex is not None:
            try:
                return re.fullmatch(self.regex, path) is not None
            except re.error:
                return False
        return path.startswith(self.prefix or "/")


@dataclass(frozen=True)
class Route:
    """One Envoy route: match, weighted clusters, retries, overall timeout."""

    name: str
    match: Match
    clusters: tuple[Cluster, ...]
    retry: RetryPolicy
    timeout_ms: float | None  # None: no route timeout
    source: str = ""

    def describe(self) -> str:
        """The readable line logged when the mesh configuration changes."""
        timeout = "none" if self.timeout_ms is None else f"{self.timeout_ms:g}ms"
        hosts = "other hosts" if self.retry.previous_hosts else "any host"
        retries = f", retries go to {hosts}" if self.retry.num_retries > 0 else ""
        return (
            f"{self.name} retry policy now {self.retry.summary} "
            f"(route timeout {timeout}{retries})"
        )


@dataclass(frozen=True)
class RouteTable:
    """Routes in match order; `problems` say why the config is incomplete."""

    routes: tuple[Route, ...] = ()
    problems: tuple[str, ...] = field(default=())

    def match(self, path: str, method: str = "GET") -> Route | None:
        """First route whose match accepts the request (Envoy: first match wins)."""
        for route in self.routes:
            if route.match.matches(path, method):
                return route
        return None


# --------------------------------------------------------------------- decisions


def should_retry(outcome: Outcome, policy: RetryPolicy) -> bool:
    """Whether Envoy would retry this outcome under `policy.retry_on`
    (ignoring how many retries are left)."""
    on = policy.retry_on
    if outcome.kind is OutcomeKind.RESPONSE:
        status = outcome.status or 0
        return (
            ("5xx" in on and 500 <= status <= 599)
            or ("gateway-error" in on and status in GATEWAY_STATUSES)
            or ("retriable-4xx" in on and status == 409)
            or (
                "retriable-status-codes" in on
                and status in policy.retriable_status_codes
            )
        )
    if on & NO_RESPONSE_TOKENS:
        return True
    if outcome.kind is OutcomeKind.CONNECT_FAILURE:
        return "connect-failure" in on
    if outcome.kind is OutcomeKind.REFUSED_STREAM:
        return "refused-stream" in on
    return False  # a per-try timeout or reset without 5xx/gateway-error/reset


def backoff_ceiling_ms(retry_number: int, base_ms: float, max_ms: float) -> float:
    """Upper bound (exclusive) of the wait before retry `retry_number` (1-based)."""
    if retry_number < 1:
        return 0.0
    return min(max_ms, (2 ** min(retry_number, 32) - 1) * base_ms)


def backoff_ms(retry_number: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Full jitter: uniform in [0, ceiling)."""
    ceiling = backoff_ceiling_ms(
        retry_number, policy.backoff_base_ms, policy.backoff_max_ms
    )
    return rng.random() * ceiling


def pick_host(
    hosts: Sequence[str],
    counter: int,
    tried: Sequence[str],
    previous_hosts: bool,
    max_attempts: int,
) -> tuple[str, int]:
    """Round-robin pick; returns (host, the cluster's next counter).

    With `previous_hosts`, a pick this request already tried is rejected and
    the balancer asked again, up to `max_attempts` more times; the last pick
    is used whatever it is (Envoy's host_selection_retry_max_attempts).
    """
    if not hosts:
        raise ValueError("no hosts to pick from")
    host = hosts[counter % len(hosts)]
    counter += 1
    if previous_hosts and tried:
        for _ in range(max_attempts):
            if host not in tried:
                break
            host = hosts[counter % len(hosts)]
            counter += 1
    return host, counter


def choose_cluster(clusters: Sequence[Cluster], rng: random.Random) -> Cluster | None:
    """Weighted choice of the cluster for a request's first try (retries stay)."""
    weighted = [c for c in clusters if c.weight > 0]
    if not weighted:
        return None
    total = sum(c.weight for c in weighted)
    point = rng.random() * total
    for cluster in weighted:
        point -= cluster.weight
        if point < 0:
            return cluster
    return weighted[-1]


def endpoints(cluster: Cluster, pods: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Names of the serving pods (name -> labels) a cluster selects, sorted."""
    if cluster.selector is None:
        return []
    wanted = dict(cluster.selector)
    return sorted(
        name
        for name, labels in pods.items()
        if all(labels.get(k) == v for k, v in wanted.items())
    )


def final_reply(outcome: Outcome) -> tuple[int, str]:
    """The local reply Envoy sends when the last try got no usable response."""
    if outcome.kind is OutcomeKind.PER_TRY_TIMEOUT:
        return 504, "upstream request timeout"
    reason = {
        OutcomeKind.CONNECT_FAILURE: "connection failure",
        OutcomeKind.REFUSED_STREAM: "remote refused stream reset",
    }.get(outcome.kind, "connection termination")
    return 503, (
        f"upstream connect error or disconnect/reset before headers. "
        f"reset reason: {reason}"
    )
