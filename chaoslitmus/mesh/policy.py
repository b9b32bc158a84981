"""The mesh-neutral retry policy and the checks every argument passes first.

Users speak one vocabulary (App Mesh's event names, milliseconds); each
adapter translates it to its CRD. Validation happens here, before any client
is built, so bad input never reaches the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaoslitmus import _args

__all__ = [
    "GRPC_RETRY_EVENTS",
    "HTTP_RETRY_EVENTS",
    "INT32_MAX",
    "INT64_MAX",
    "TCP_RETRY_EVENTS",
    "PolicyError",
    "flag",
    "RetryPolicy",
    "make_policy",
    "optional_events",
    "optional_int",
    "policy_matches",
]

# The CRD enums (App Mesh v1beta1 and v1beta2 share them).
HTTP_RETRY_EVENTS = ("server-error", "gateway-error", "client-error", "stream-error")
TCP_RETRY_EVENTS = ("connection-error",)
GRPC_RETRY_EVENTS = (
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
)
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

# Envoy / Istio spellings people type by habit, to point them at ours.
_HABITS = {
    "5xx": "server-error",
    "retriable-4xx": "client-error",
    "refused-stream": "stream-error",
    "connect-failure": "connection-error",
    "reset": "server-error",
}


class PolicyError(ActivityFailed):
    """Bad retry-policy input: raised before anything is sent."""


@dataclass(frozen=True)
class RetryPolicy:
    """A retry policy in the shared vocabulary.

    Read back from a cluster, any field may be missing (``None`` / empty), so
    nothing here is required; :func:`make_policy` enforces what a *new* policy
    needs. ``other_events`` keeps retry conditions with no neutral name (for
    example Istio's ``reset`` or a bare ``503``) so nothing read is hidden.
    """

    max_retries: int | None = None
    per_retry_timeout_ms: int | float | None = None
    http_retry_events: tuple[str, ...] = ()
    tcp_retry_events: tuple[str, ...] = ()
    grpc_retry_events: tuple[str, ...] = ()
    other_events: tuple[str, ...] = field(default=())

    @property
    def events(self) -> tuple[str, ...]:
        return self.http_retry_events + self.tcp_retry_events + self.grpc_retry_events

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form used in every activity output."""
        return {
            "max_retries": self.max_retries,
            "per_retry_timeout_ms": self.per_retry_timeout_ms,
            "http_retry_events": list(self.http_retry_events),
            "tcp_retry_events": list(self.tcp_retry_events),
            "grpc_retry_events": list(self.grpc_retry_events),
            "other_events": list(self.other_events),
        }


def _fail(message: str) -> PolicyError:
    return PolicyError(f"invalid retry policy: {message}")


def _as_int(value: Any, what: str, minimum: int) -> int:
    """A whole number >= ``minimum``; exact numeric strings too (``--var``)."""
    try:
        return _args.whole(value, what, minimum, INT64_MAX)
    except ActivityFailed as exc:
        raise _fail(str(exc)) from None


def flag(value: Any, what: str) -> bool:
    """A real boolean, or exactly "true"/"false" (``--var`` gives strings)."""
    try:
        return _args.boolean(value, what)
    except ActivityFailed as exc:
        raise PolicyError(f"invalid arguments: {exc}") from None


def optional_int(value: Any, what: str, minimum: int) -> int | None:
    """``None`` stays ``None``; anything else must be an integer >= ``minimum``."""
    return None if value is None else _as_int(value, what, minimum)


def _event_list(value: Any, what: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """A list (or comma-separated string) of allowed events, de-duplicated."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: Iterable[Any] = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise _fail(f"{what} must be a list of strings (got {value!r})")
    seen: list[str] = []
    for item in items:
        event = item.strip() if isinstance(item, str) else item
        if event not in allowed:
            hint = ""
            if isinstance(event, str) and event in _HABITS:
                hint = f" ('{event}' is Envoy's name: use '{_HABITS[event]}')"
            raise _fail(f"{what} has {event!r}; allowed: {', '.join(allowed)}{hint}")
        if event not in seen:
            seen.append(event)
    return tuple(seen)


def optional_events(value: Any, what: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """Validate an optional event list (used by the probes' expectations)."""
    return _event_list(value, what, allowed)


def make_policy(
    max_retries: Any,
    per_retry_timeout_ms: Any = None,
    http_retry_events: Any = None,
    tcp_retry_events: Any = None,
    grpc_retry_events: Any = None,
) -> RetryPolicy:
    """Check user arguments and build the policy to apply.

    Mesh-specific limits (required fields, integer widths) are checked by each
    adapter's ``check``; this covers what all meshes share: a retry count, a
    per-try timeout of at least 1 ms when given, known events, at least one.
    """
    if max_retries is None:
        raise _fail(
            "max_retries is required (the number of retries after the first try)"
        )
    retries = _as_int(max_retries, "max_retries", 0)
    timeout = optional_int(per_retry_timeout_ms, "per_retry_timeout_ms", 1)
    http = _event_list(http_retry_events, "http_retry_events", HTTP_RETRY_EVENTS)
    tcp = _event_list(tcp_retry_events, "tcp_retry_events", TCP_RETRY_EVENTS)
    grpc = _event_list(grpc_retry_events, "grpc_retry_events", GRPC_RETRY_EVENTS)
    if not (http or tcp or grpc):
        raise _fail(
            "give at least one of http_retry_events (e.g. ['server-error']), "
            "tcp_retry_events (['connection-error']) or grpc_retry_events"
        )
    return RetryPolicy(retries, timeout, http, tcp, grpc)


def policy_matches(
    actual: RetryPolicy | None,
    max_retries: int | None = None,
    per_retry_timeout_ms: int | None = None,
    http_retry_events: tuple[str, ...] | None = None,
    tcp_retry_events: tuple[str, ...] | None = None,
    grpc_retry_events: tuple[str, ...] | None = None,
) -> bool:
    """Whether ``actual`` has every expected field (``None`` = not checked).

    Events compare as sets: order carries no meaning in any of the meshes.
    A missing policy never matches.
    """
    if actual is None:
        return False
    checks: list[bool] = []
    if max_retries is not None:
        checks.append(actual.max_retries == max_retries)
    if per_retry_timeout_ms is not None:
        checks.append(actual.per_retry_timeout_ms == per_retry_timeout_ms)
    for expected, got in (
        (http_retry_events, actual.http_retry_events),
        (tcp_retry_events, actual.tcp_retry_events),
        (grpc_retry_events, actual.grpc_retry_events),
    ):
        if expected is not None:
            checks.append(set(expected) == set(got))
    return all(checks)
