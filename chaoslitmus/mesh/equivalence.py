"""Would two meshes' retry policies give callers the same view? (pure)

For teams moving off App Mesh: the same experiment run on both meshes must
expect the same results only if the two policies behave alike. Each policy,
in our vocabulary, is turned into what its mesh's data plane does with it
(:func:`behaviour`), and the two behaviours are compared field by field.
Some fields differ by construction, whatever the settings: those are listed
apart as ``cannot_be_equal``. The facts behind every value are in
docs/mesh-behaviour.md, "Comparing meshes".
"""

from __future__ import annotations

from typing import Any

from chaoslitmus.mesh.policy import RetryPolicy

__all__ = ["BEHAVIOUR_FIELDS", "STRUCTURAL", "behaviour", "compare"]

SERVER_ERROR = tuple(range(500, 509)) + (510, 511)
ALL_5XX = tuple(range(500, 600))
GATEWAY = (502, 503, 504)

# What each of our events retries, per mesh: (status codes, per-try timeouts
# and resets retried, connect failures retried, refused streams retried).
_EVENTS: dict[str, dict[str, tuple[tuple[int, ...], bool, bool, bool]]] = {
    # App Mesh -> Envoy (server-error and gateway-error include Envoy's reset).
    "appmesh": {
        "server-error": (SERVER_ERROR, True, True, True),
        "gateway-error": (GATEWAY, True, True, True),
        "client-error": ((409,), False, False, False),
        "stream-error": ((), False, False, True),
        "connection-error": ((), False, True, False),
    },
    # Istio retryOn tokens as this package writes them (5xx, gateway-error...).
    "istio": {
        "server-error": (ALL_5XX, True, True, True),
        "gateway-error": (GATEWAY, True, True, True),
        "client-error": ((409,), False, False, False),
        "stream-error": ((), False, False, True),
        "connection-error": ((), False, True, False),
    },
    # HTTPRoute codes; connect failures and refused streams are always
    # retried by Envoy-based implementations (Istio's mapping).
    "gateway-api": {
        "server-error": (SERVER_ERROR, False, False, False),
        "gateway-error": (GATEWAY, False, False, False),
        "client-error": ((409,), False, False, False),
    },
    # Linkerd annotations: status ranges only; timeouts and refused streams
    # are retried whatever the codes, connection errors never.
    "linkerd": {
        "server-error": (ALL_5XX, False, False, False),
        "gateway-error": (GATEWAY, False, False, False),
        "client-error": ((409,), False, False, False),
    },
}

BEHAVIOUR_FIELDS = (
    "retries",
    "per_try_timeout_ms",
    "status_codes",
    "retries_per_try_timeouts",
    "retries_connect_failures",
    "retries_refused_streams",
    "last_try_has_per_try_timeout",
    "retry_avoids_failed_endpoint",
)
# Differences no setting can remove (the meshes are built that way).
STRUCTURAL = frozenset({"last_try_has_per_try_timeout", "retry_avoids_failed_endpoint"})


def _codes_text(codes: set[int]) -> list[str]:
    """Status codes as short ranges (``500-508``) for a readable output."""
    ranges: list[str] = []
    for code in sorted(codes):
        if ranges and "-" in ranges[-1] and int(ranges[-1].split("-")[1]) == code - 1:
            ranges[-1] = f"{ranges[-1].split('-')[0]}-{code}"
        elif ranges and "-" not in ranges[-1] and int(ranges[-1]) == code - 1:
            ranges[-1] = f"{ranges[-1]}-{code}"
        else:
            ranges.append(str(code))
    return ranges


def behaviour(mesh: str, policy: RetryPolicy) -> dict[str, Any]:
    """What ``mesh``'s data plane does with ``policy`` (see the module doc)."""
    table = _EVENTS[mesh]
    codes: set[int] = set()
    timeouts = connects = refused = False
    for event in policy.http_retry_events + policy.tcp_retry_events:
        statuses, on_timeout, on_connect, on_refused = table[event]
        codes |= set(statuses)
        timeouts, connects, refused = (
            timeouts or on_timeout,
            connects or on_connect,
            refused or on_refused,
        )
    retrying = bool(policy.max_retries)
    if mesh == "gateway-api":
        # Envoy-based implementations: connect failures and refused streams
        # always; a backendRequest expiry: implementation-specific (None).
        connects = refused = retrying
        timeouts = None if retrying else False
    if mesh == "linkerd":
        timeouts = refused = retrying
        connects = False
    return {
        "retries": policy.max_retries,
        "per_try_timeout_ms": policy.per_retry_timeout_ms,
        "status_codes": _codes_text(codes),
        "retries_per_try_timeouts": timeouts,
        "retries_connect_failures": connects,
        "retries_refused_streams": refused,
        # Linkerd lifts the per-try timeout on the last allowed try.
        "last_try_has_per_try_timeout": mesh != "linkerd"
        or policy.per_retry_timeout_ms is None,
        # Envoy's previous_hosts (Istio's default; App Mesh: unconfirmed);
        # Linkerd re-runs its balancer with no exclusion.
        "retry_avoids_failed_endpoint": {
            "appmesh": None,
            "istio": True,
            "gateway-api": None,
            "linkerd": False,
        }[mesh],
    }


def compare(
    mesh_a: str, policy_a: RetryPolicy, mesh_b: str, policy_b: RetryPolicy
) -> dict[str, Any]:
    """Field-by-field comparison; ``equivalent`` only when nothing differs
    and nothing is undocumented on one side only."""
    a, b = behaviour(mesh_a, policy_a), behaviour(mesh_b, policy_b)
    fixed = set(STRUCTURAL)
    if "linkerd" in (mesh_a, mesh_b):
        fixed.add("retries_connect_failures")  # Linkerd never retries them
    differences, structural, unknown = [], [], []
    for name in BEHAVIOUR_FIELDS:
        if a[name] is None or b[name] is None:
            if a[name] != b[name]:
                unknown.append(name)
            continue
        if a[name] != b[name]:
            (structural if name in fixed else differences).append(
                {"field": name, "a": a[name], "b": b[name]}
            )
    return {
        "equivalent": not (differences or structural or unknown),
        "differences": differences,
        "cannot_be_equal": structural,
        "not_documented": unknown,
        "behaviour": {"a": {"mesh": mesh_a, **a}, "b": {"mesh": mesh_b, **b}},
    }
