"""Istio ``networking.istio.io`` VirtualService (v1, v1beta1, v1alpha3).

Routes are ``spec.http[]``; the retry block is ``retries {attempts,
perTryTimeout, retryOn}``. Event names map one-to-one to Envoy retry-on
tokens so a policy reads back as it was written:

=================  ===================  =========================================
neutral            Istio ``retryOn``    note (Envoy semantics)
=================  ===================  =========================================
server-error       ``5xx``              any 5xx or no response: a little wider
                                        than App Mesh's list (also 509, resets,
                                        connect failures); retries per-try
                                        timeouts, as App Mesh's does
gateway-error      ``gateway-error``    502/503/504 and resets
client-error       ``retriable-4xx``    409 only
stream-error       ``refused-stream``   REFUSED_STREAM
connection-error   ``connect-failure``  App Mesh docs: "equivalent to connect-failure"
gRPC events        same names           cancelled, deadline-exceeded, ...
=================  ===================  =========================================

Anything else found in ``retryOn`` (``reset``, ``503``...) is reported as
``other_events`` and kept untouched by reads. Keys we do not manage
(``backoff``, ``retryRemoteLocalities``, ``retryIgnorePreviousHosts``) are kept
when a policy is set.
See docs/mesh-behaviour.md#istio-retries-and-retryon.
"""

from __future__ import annotations

import copy
import re

from chaoslitmus.mesh.policy import (
    GRPC_RETRY_EVENTS,
    HTTP_RETRY_EVENTS,
    INT32_MAX,
    TCP_RETRY_EVENTS,
    PolicyError,
    RetryPolicy,
)
from chaoslitmus.mesh.routes import Adapter, RouteInfo

__all__ = [
    "ADAPTERS",
    "TO_RETRY_ON",
    "fault_warning",
    "format_duration",
    "from_policy",
    "parse_duration_ms",
    "to_policy",
]

RETRY_KEY = "retries"
TO_RETRY_ON = {
    "server-error": "5xx",
    "gateway-error": "gateway-error",
    "client-error": "retriable-4xx",
    "stream-error": "refused-stream",
    "connection-error": "connect-failure",
    **{event: event for event in GRPC_RETRY_EVENTS},
}
FROM_RETRY_ON = {token: event for event, token in TO_RETRY_ON.items()}
_EVENT_KIND = {
    **{event: "http" for event in HTTP_RETRY_EVENTS},
    **{event: "tcp" for event in TCP_RETRY_EVENTS},
    **{event: "grpc" for event in GRPC_RETRY_EVENTS},
}

DEFAULT_NOTE = (
    "without retries Istio applies its default retry policy: 2 retries on "
    "connect-failure, refused-stream, unavailable, cancelled (and 503 before "
    "Istio 1.24), with no per-try timeout; set max_retries=0 to disable retries"
)

_UNIT_MS = {"h": 3_600_000.0, "m": 60_000.0, "s": 1000.0, "ms": 1.0, "us": 1e-3,
            "µs": 1e-3, "μs": 1e-3, "ns": 1e-6}  # fmt: skip
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|μs|ns)")


def parse_duration_ms(text: object) -> int | float | None:
    """A Go/protobuf duration (``2s``, ``1500ms``, ``1m30s``, ``0.5s``) in ms.

    Whole milliseconds come back as ``int``; anything unparseable as ``None``.
    """
    if not isinstance(text, str) or not text:
        return None
    position, total = 0, 0.0
    while position < len(text):
        match = _PART.match(text, position)
        if not match:
            return None
        total += float(match.group(1)) * _UNIT_MS[match.group(2)]
        position = match.end()
    rounded = round(total, 6)
    return int(rounded) if rounded.is_integer() else rounded


def format_duration(ms: int) -> str:
    """Milliseconds as Istio writes them: ``2s`` when whole seconds, else ``1500ms``."""
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def describe(route: dict, index: int) -> RouteInfo:
    name = route.get("name")
    label = name if isinstance(name, str) and name else f"http[{index}]"
    return RouteInfo(index, label, "http")


def get_raw(route: dict) -> dict | None:
    raw = route.get(RETRY_KEY)
    return raw if isinstance(raw, dict) else None


def set_raw(route: dict, raw: dict | None) -> dict:
    new = copy.deepcopy(route)
    if raw is None:
        new.pop(RETRY_KEY, None)
    else:
        new[RETRY_KEY] = copy.deepcopy(raw)
    return new


def to_policy(raw: dict) -> RetryPolicy:
    """``retries`` -> neutral; retryOn tokens sorted into event kinds."""
    buckets: dict[str, list[str]] = {"http": [], "tcp": [], "grpc": [], "other": []}
    tokens = raw.get("retryOn")
    for token in tokens.split(",") if isinstance(tokens, str) else ():
        token = token.strip()
        if token:
            event = FROM_RETRY_ON.get(token, token)
            buckets[_EVENT_KIND.get(event, "other")].append(event)
    attempts = raw.get("attempts")
    return RetryPolicy(
        max_retries=attempts if type(attempts) is int else None,
        per_retry_timeout_ms=parse_duration_ms(raw.get("perTryTimeout")),
        http_retry_events=tuple(buckets["http"]),
        tcp_retry_events=tuple(buckets["tcp"]),
        grpc_retry_events=tuple(buckets["grpc"]),
        other_events=tuple(buckets["other"]),
    )


def from_policy(policy: RetryPolicy, info: RouteInfo, old: dict | None) -> dict:
    """New ``retries``: ours replace attempts/perTryTimeout/retryOn, the rest stays."""
    del info
    raw = copy.deepcopy(old) if old else {}
    raw["attempts"] = policy.max_retries
    if policy.per_retry_timeout_ms is None:
        raw.pop("perTryTimeout", None)
    else:
        raw["perTryTimeout"] = format_duration(int(policy.per_retry_timeout_ms))
    raw["retryOn"] = ",".join(TO_RETRY_ON[event] for event in policy.events)
    return raw


def fault_warning(route: dict) -> str | None:
    """Istio: the route injects a fault, which its own retries never see."""
    if not isinstance(route.get("fault"), dict):
        return None
    kinds = " and ".join(k for k in ("delay", "abort") if k in route["fault"])
    return (
        f"this route injects a fault ({kinds or 'fault'}) in the caller's sidecar, "
        "before retries and timeouts: Istio never retries it on the same route "
        "(istio#13705); inject the fault in the server (Litmus, or a server-side "
        "EnvoyFilter) to test retries"
    )


def route_timeout(route: dict) -> tuple[int | float | None, bool]:
    """``http[].timeout`` in ms; Istio's default is no timeout at all."""
    return parse_duration_ms(route.get("timeout")) or None, False


def check(policy: RetryPolicy) -> None:
    """``attempts`` is an int32 in the Istio CRD."""
    if policy.max_retries is not None and policy.max_retries > INT32_MAX:
        raise PolicyError(
            f"invalid retry policy: max_retries must be <= {INT32_MAX} for Istio"
        )


def _adapter(version: str) -> Adapter:
    return Adapter(
        mesh="istio",
        api_version=version,
        group="networking.istio.io",
        plural="virtualservices",
        kind="VirtualService",
        routes_field="http",
        describe=describe,
        get_raw=get_raw,
        set_raw=set_raw,
        to_policy=to_policy,
        from_policy=from_policy,
        check=check,
        default_note=DEFAULT_NOTE,
        route_timeout=route_timeout,
        route_warning=fault_warning,
    )


# All served versions share one schema (docs/mesh-behaviour.md); preferred first.
ADAPTERS = {version: _adapter(version) for version in ("v1", "v1beta1", "v1alpha3")}
