"""Gateway API ``HTTPRoute`` (``gateway.networking.k8s.io`` v1, v1beta1).

Routes are ``spec.rules[]``; a rule's retry settings are ``retry {attempts,
codes, backoff}`` (GEP-1731) and ``timeouts.backendRequest`` (GEP-1742, one
request to the backend: the per-try timeout when retrying). The whole budget,
``timeouts.request``, is the route timeout: it is read, never written.

Our vocabulary maps onto status codes (the only retry condition the API can
name; docs/mesh-behaviour.md, "Gateway API HTTPRoute retries"):

=================  =============================================
ours               ``retry.codes``
=================  =============================================
server-error       500-508, 510, 511 (App Mesh's list)
gateway-error      502, 503, 504
client-error       409
stream-error,      refused: the API has no field for them
connection-error   (implementations SHOULD retry connection
gRPC events        errors whenever a retry stanza exists)
=================  =============================================

``max_retries`` is ``attempts`` (retries after the first try, as the
conformance tests count them); ``backoff`` is kept as it is. The retry
"block" of a rule, for snapshots and restores, is ``{"retry": ...,
"timeouts": {"backendRequest": ...}}``: ``timeouts`` appears in it only
when the rule has a ``backendRequest`` or an empty ``timeouts`` object, so
a restore puts the rule back exactly, ``timeouts.request`` untouched (a
rule whose ``timeouts`` is an empty object therefore reads as a policy with
nothing set, not as no policy).
"""

from __future__ import annotations

import copy
import re

from chaoslitmus.mesh.istio import parse_duration_ms
from chaoslitmus.mesh.policy import (
    GRPC_RETRY_EVENTS,
    PolicyError,
    RetryPolicy,
)
from chaoslitmus.mesh.routes import Adapter, RouteError, RouteInfo

__all__ = [
    "ADAPTERS",
    "EVENT_CODES",
    "GROUP",
    "check",
    "codes_for",
    "events_for",
    "format_duration",
    "from_policy",
    "get_raw",
    "set_raw",
    "to_policy",
]

GROUP = "gateway.networking.k8s.io"
SERVER_ERROR_CODES = (500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511)
EVENT_CODES: dict[str, tuple[int, ...]] = {
    "server-error": SERVER_ERROR_CODES,
    "gateway-error": (502, 503, 504),
    "client-error": (409,),
}
EXPRESSIBLE = ", ".join(EVENT_CODES)
BACKEND = "backendRequest"

DEFAULT_NOTE = (
    "without retry the implementation's default applies (Gateway API leaves it "
    "open; Istio: its mesh default, 2 retries on connect-failure, "
    "refused-stream, unavailable, cancelled)"
)


def format_duration(ms: int) -> str:
    """Milliseconds as a GEP-2257 duration (``2s``, ``1500ms``, ``1m40s500ms``).

    The CRD pattern allows at most 5 digits per part, so large values are split
    into h/m/s/ms parts.
    """
    if ms % 1000 == 0 and ms // 1000 <= 99_999:
        return f"{ms // 1000}s"
    if ms <= 99_999:
        return f"{ms}ms"
    parts = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def codes_for(events: tuple[str, ...]) -> list[int]:
    """The sorted, de-duplicated status codes our events stand for."""
    return sorted({code for event in events for code in EVENT_CODES[event]})


def events_for(codes: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(our events, other codes) for a ``codes`` list read back.

    ``server-error`` covers ``gateway-error``'s codes, so a list holding all of
    App Mesh's server-error codes reads back as ``server-error`` alone.
    """
    found = {c for c in codes if type(c) is int} if isinstance(codes, list) else set()
    events: list[str] = []
    for event, wanted in EVENT_CODES.items():
        if event == "gateway-error" and "server-error" in events:
            continue
        if set(wanted) <= found:
            events.append(event)
    covered = set(codes_for(tuple(events)))
    others = tuple(str(code) for code in sorted(found - covered))
    return tuple(events), others


def describe(rule: dict, index: int) -> RouteInfo:
    name = rule.get("name")
    label = name if isinstance(name, str) and name else f"rules[{index}]"
    return RouteInfo(index, label, "http")


def get_raw(rule: dict) -> dict | None:
    """``{"retry", "timeouts": {"backendRequest"}}`` of a rule, ``None`` if neither."""
    raw: dict = {}
    if isinstance(rule.get("retry"), dict):
        raw["retry"] = copy.deepcopy(rule["retry"])
    timeouts = rule.get("timeouts")
    if isinstance(timeouts, dict) and BACKEND in timeouts:
        raw["timeouts"] = {BACKEND: timeouts[BACKEND]}
    elif timeouts == {}:
        # Kept so a restore can put the empty object back (exactness).
        raw["timeouts"] = {}
    return raw or None


def set_raw(rule: dict, raw: dict | None) -> dict:
    """A copy of ``rule`` with its retry settings replaced (``None`` removes them).

    ``timeouts.request`` is kept; ``timeouts`` is dropped only when removing
    ``backendRequest`` empties it and ``raw`` does not name it.
    """
    new = copy.deepcopy(rule)
    raw = raw or {}
    new.pop("retry", None)
    if "retry" in raw:
        new["retry"] = copy.deepcopy(raw["retry"])
    timeouts = new.get("timeouts")
    if isinstance(timeouts, dict):
        timeouts.pop(BACKEND, None)
    wanted = raw.get("timeouts")
    if isinstance(wanted, dict):
        target = new["timeouts"] if isinstance(timeouts, dict) else {}
        target.update(copy.deepcopy(wanted))
        new["timeouts"] = target
        _check_budget(new)
    elif timeouts == {}:
        del new["timeouts"]
    return new


def _check_budget(rule: dict) -> None:
    """The CRD's rule: backendRequest may not be longer than request (unless 0s)."""
    timeouts = rule.get("timeouts") or {}
    request = parse_duration_ms(timeouts.get("request"))
    backend = parse_duration_ms(timeouts.get(BACKEND))
    if request and backend and backend > request:
        label = rule.get("name") or "a rule"
        raise RouteError(
            f"rule {label!r}: per_retry_timeout_ms ({backend:g} ms, "
            f"timeouts.backendRequest) is longer than its timeouts.request "
            f"({request:g} ms), which the HTTPRoute CRD forbids: lower "
            "per_retry_timeout_ms or raise timeouts.request"
        )


def to_policy(raw: dict) -> RetryPolicy:
    retry = raw.get("retry") if isinstance(raw.get("retry"), dict) else {}
    attempts = retry.get("attempts")
    events, others = events_for(retry.get("codes"))
    timeouts = raw.get("timeouts") if isinstance(raw.get("timeouts"), dict) else {}
    return RetryPolicy(
        max_retries=attempts if type(attempts) is int else None,
        per_retry_timeout_ms=parse_duration_ms(timeouts.get(BACKEND)),
        http_retry_events=events,
        other_events=others,
    )


def from_policy(policy: RetryPolicy, info: RouteInfo, old: dict | None) -> dict:
    """New retry settings: attempts, codes and backendRequest ours, backoff kept."""
    del info
    raw = copy.deepcopy(old) if old else {}
    retry = raw.get("retry") if isinstance(raw.get("retry"), dict) else {}
    retry["attempts"] = policy.max_retries
    retry["codes"] = codes_for(policy.http_retry_events)
    raw["retry"] = retry
    timeouts = raw.get("timeouts") if isinstance(raw.get("timeouts"), dict) else None
    if policy.per_retry_timeout_ms is not None:
        timeouts = timeouts if timeouts is not None else {}
        timeouts[BACKEND] = format_duration(int(policy.per_retry_timeout_ms))
        raw["timeouts"] = timeouts
    elif timeouts is not None:
        timeouts.pop(BACKEND, None)
        if not timeouts and (old or {}).get("timeouts") != {}:
            raw.pop("timeouts")
    return raw


def route_timeout(rule: dict) -> tuple[int | float | None, bool]:
    """``timeouts.request`` in ms (None: unset or 0s, the implementation's choice)."""
    timeouts = rule.get("timeouts") if isinstance(rule.get("timeouts"), dict) else {}
    return parse_duration_ms(timeouts.get("request")) or None, False


_REFUSED = {
    "stream-error": "it has no field for refused streams",
    "connection-error": (
        "it has no field for connection errors (implementations SHOULD retry "
        "them whenever a retry stanza is set)"
    ),
}


def check(policy: RetryPolicy) -> None:
    """What HTTPRoute ``retry`` can say: status codes, attempts, a per-try timeout."""
    for event in policy.events:
        if event in GRPC_RETRY_EVENTS:
            raise PolicyError(
                f"invalid retry policy: Gateway API HTTPRoute cannot retry on gRPC "
                f"status {event!r} (GRPCRoute has no retry field); it can express: "
                f"{EXPRESSIBLE} (as status codes)"
            )
        if event in _REFUSED:
            raise PolicyError(
                f"invalid retry policy: Gateway API HTTPRoute cannot select "
                f"{event!r}: {_REFUSED[event]}; it can express: {EXPRESSIBLE} "
                "(as status codes)"
            )
    if policy.max_retries is not None and policy.max_retries > 2**31 - 1:
        raise PolicyError("invalid retry policy: max_retries must be <= 2147483647")


_PATTERN = re.compile(r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")


def valid_duration(text: str) -> bool:
    """Whether ``text`` matches the CRD's GEP-2257 duration pattern."""
    return bool(_PATTERN.match(text))


def _adapter(version: str) -> Adapter:
    return Adapter(
        mesh="gateway-api",
        api_version=version,
        group=GROUP,
        plural="httproutes",
        kind="HTTPRoute",
        routes_field="rules",
        describe=describe,
        get_raw=get_raw,
        set_raw=set_raw,
        to_policy=to_policy,
        from_policy=from_policy,
        check=check,
        default_note=DEFAULT_NOTE,
        route_timeout=route_timeout,
    )


# v1 (storage) and v1beta1 share one rule schema in every channel.
ADAPTERS = {version: _adapter(version) for version in ("v1", "v1beta1")}
