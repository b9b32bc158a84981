"""The SLO guard's arguments, checked: pure, so a bad one changes nothing.

Raises ValueError with one line that names the argument; ``literal_only``
skips values that are still ``${placeholders}`` (what `chaos validate` sees).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaoslitmus.http._plan import RequestSpec, request_spec
from chaoslitmus.http._schedule import default_max_in_flight
from chaoslitmus.http.window import AbortLimits, default_min_requests, parse_abort_when

__all__ = ["ARGUMENTS", "GuardConfig", "parse_config"]

ARGUMENTS = (
    "url",
    "abort_when",
    "rate_per_s",
    "timeout_s",
    "method",
    "headers",
    "ok_statuses",
    "verify_tls",
    "max_in_flight",
    "engine_name",
    "namespace",
)
MAX_GUARD_RATE_PER_S = 1000.0


@dataclass(frozen=True)
class GuardConfig:
    request: RequestSpec
    limits: AbortLimits
    abort_when: dict[str, Any]
    rate_per_s: float
    max_in_flight: int
    min_requests: int
    ok_statuses: tuple[int, ...] | None
    engine: tuple[str, str] | None
    k8s_secrets: dict | None


def _placeholder(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def parse_config(
    arguments: Mapping[str, Any], secrets: Any, literal_only: bool = False
) -> GuardConfig | None:
    """The guard's settings, or ValueError; None when ``literal_only`` cannot tell."""
    unknown = sorted(set(arguments) - set(ARGUMENTS))
    if unknown:
        raise ValueError(
            f"unknown argument(s) {', '.join(unknown)}; known: {', '.join(ARGUMENTS)}"
        )
    for required in ("url", "abort_when"):
        if arguments.get(required) is None:
            raise ValueError(f"argument {required} is required")
    if literal_only and any(_placeholder(v) for v in arguments.values()):
        abort_when = arguments["abort_when"]
        if isinstance(abort_when, Mapping) and not any(
            _placeholder(v) for v in abort_when.values()
        ):
            parse_abort_when(abort_when)
        return None
    limits = parse_abort_when(arguments["abort_when"])
    request = request_spec(
        arguments["url"],
        arguments.get("method", "GET"),
        arguments.get("headers"),
        None,
        arguments.get("timeout_s", 5),
        arguments.get("verify_tls", True),
    )
    rate = arguments.get("rate_per_s", 5)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise ValueError(f"rate_per_s must be a number, got {rate!r}")
    if not 0 < rate <= MAX_GUARD_RATE_PER_S:
        raise ValueError(f"rate_per_s must be > 0 and <= {MAX_GUARD_RATE_PER_S:g}")
    if rate * limits.window_s < 1:
        raise ValueError(
            f"rate_per_s {rate:g} sends no request in a {limits.window_s:g} s "
            "window; raise rate_per_s or abort_when.window_s"
        )
    in_flight = arguments.get("max_in_flight")
    if in_flight is None:
        in_flight = default_max_in_flight(float(rate), request.timeout_s)
    elif isinstance(in_flight, bool) or not isinstance(in_flight, int) or in_flight < 1:
        raise ValueError(
            f"max_in_flight must be a whole number >= 1, got {in_flight!r}"
        )
    ok = arguments.get("ok_statuses")
    if ok is not None and (
        isinstance(ok, (str, bytes))
        or not isinstance(ok, (list, tuple))
        or not ok
        or any(isinstance(c, bool) or not isinstance(c, int) for c in ok)
    ):
        raise ValueError(f"ok_statuses must be a list of status codes, got {ok!r}")
    engine_name, namespace = arguments.get("engine_name"), arguments.get("namespace")
    if (engine_name is None) != (namespace is None):
        raise ValueError("give engine_name and namespace together (or neither)")
    for name, value in (("engine_name", engine_name), ("namespace", namespace)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    k8s = secrets.get("k8s") if isinstance(secrets, Mapping) else None
    return GuardConfig(
        request=request,
        limits=limits,
        abort_when=dict(arguments["abort_when"]),
        rate_per_s=float(rate),
        max_in_flight=in_flight,
        min_requests=default_min_requests(limits, float(rate)),
        ok_statuses=tuple(ok) if ok is not None else None,
        engine=(engine_name, namespace) if engine_name else None,
        k8s_secrets=dict(k8s) if isinstance(k8s, Mapping) else None,
    )
