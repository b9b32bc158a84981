"""Argument checks for the HTTP probes: pure, so bad input never sends a byte.

Each check raises ValueError with one line that says which argument is wrong
and what would be accepted; the probes turn it into ActivityFailed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from chaoslib.exceptions import ActivityFailed

from chaoslitmus import _args
from chaoslitmus.http._schedule import default_max_in_flight, request_count

__all__ = ["MAX_REQUESTS", "Plan", "RequestSpec", "plan_measurement", "request_spec"]

# One measurement holds every sample in memory and in the journal.
MAX_REQUESTS = 100_000
MAX_RATE_PER_S = 10_000.0
MAX_DURATION_S = 86_400.0
MAX_TIMEOUT_S = 3_600.0
MAX_IN_FLIGHT_LIMIT = 10_000
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True)
class RequestSpec:
    """What to send, validated."""

    url: str
    method: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    timeout_s: float
    verify_tls: bool


@dataclass(frozen=True)
class Plan:
    """A validated open-loop measurement: the request, the rate and limits."""

    request: RequestSpec
    rate_per_s: float
    duration_s: float
    count: int
    max_in_flight: int
    ok_statuses: tuple[int, ...] | None


def request_spec(
    url: object,
    method: object = "GET",
    headers: object = None,
    body: object = None,
    timeout_s: object = 5,
    verify_tls: object = True,
) -> RequestSpec:
    """Validate what one request sends; ValueError with one line if wrong."""
    checked_url, checked_headers = _url(url), _headers(headers)
    if urlsplit(checked_url).username is not None and any(
        name.lower() == "authorization" for name, _ in checked_headers
    ):
        # aiohttp would fail every request: it cannot send both.
        raise ValueError(
            "url carries user:password@ and headers carry an Authorization "
            "header; give only one of them"
        )
    return RequestSpec(
        url=checked_url,
        method=_method(method),
        headers=checked_headers,
        body=_body(body),
        timeout_s=_positive("timeout_s", timeout_s, MAX_TIMEOUT_S),
        verify_tls=_flag("verify_tls", verify_tls),
    )


def plan_measurement(
    url: object,
    duration_s: object = 10,
    rate_per_s: object = 10,
    method: object = "GET",
    headers: object = None,
    body: object = None,
    timeout_s: object = 5,
    ok_statuses: object = None,
    max_in_flight: object = None,
    verify_tls: object = True,
) -> Plan:
    """Validate a whole measurement; ValueError with one line if wrong."""
    request = request_spec(url, method, headers, body, timeout_s, verify_tls)
    duration = _positive("duration_s", duration_s, MAX_DURATION_S)
    rate = _positive("rate_per_s", rate_per_s, MAX_RATE_PER_S)
    count = request_count(rate, duration)
    if count > MAX_REQUESTS:
        raise ValueError(
            f"rate_per_s * duration_s asks for {count} requests, more than "
            f"{MAX_REQUESTS}; lower the rate or split the measurement"
        )
    return Plan(
        request=request,
        rate_per_s=rate,
        duration_s=duration,
        count=count,
        max_in_flight=_max_in_flight(max_in_flight, rate, request.timeout_s),
        ok_statuses=_ok_statuses(ok_statuses),
    )


def _url(url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"url must be a non-empty string, got {url!r}")
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"url {url!r} must start with http:// or https://")
    if not parts.hostname:
        raise ValueError(f"url {url!r} has no host; write e.g. http://host:port/path")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError(f"url {url!r} has an invalid port") from None
    return url.strip()


def _method(method: object) -> str:
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    return method.upper()


def _headers(headers: object) -> tuple[tuple[str, str], ...]:
    if headers is None:
        return ()
    if not isinstance(headers, Mapping):
        raise ValueError(f"headers must be a mapping of name to value, got {headers!r}")
    pairs = []
    for name, value in headers.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"header names must be non-empty strings, got {name!r}")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(f"header {name!r} must be a string, got {value!r}")
        text = str(value)
        if any(c in name + text for c in "\r\n\0"):
            raise ValueError(f"header {name!r} contains a line break or NUL")
        pairs.append((name.strip(), text))
    return tuple(pairs)


def _body(body: object) -> bytes | None:
    if body is None:
        return None
    if not isinstance(body, str):
        raise ValueError(f"body must be a string (json.dumps a document), got {body!r}")
    return body.encode("utf-8")


def _number(name: str, value: object) -> float:
    """A finite number; exact numeric strings too (``chaos run --var``)."""
    try:
        return _args.number(value, name, minimum=None)
    except ActivityFailed as exc:
        raise ValueError(str(exc)) from None


def _positive(name: str, value: object, upper: float) -> float:
    number = _number(name, value)
    if not 0 < number <= upper:
        raise ValueError(f"{name} must be > 0 and <= {upper:g}, got {value!r}")
    return number


def _flag(name: str, value: object) -> bool:
    try:
        return _args.boolean(value, name)
    except ActivityFailed as exc:
        raise ValueError(str(exc)) from None


def _max_in_flight(value: object, rate: float, timeout_s: float) -> int:
    if value is None or value == 0:
        return default_max_in_flight(rate, timeout_s)
    try:
        return _args.whole(value, "max_in_flight", 1, MAX_IN_FLIGHT_LIMIT)
    except ActivityFailed as exc:
        raise ValueError(str(exc)) from None


def _ok_statuses(value: object) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ValueError(
            f"ok_statuses must be a non-empty list of status codes, got {value!r}"
        )
    for code in value:
        if (
            isinstance(code, bool)
            or not isinstance(code, int)
            or not 100 <= code <= 599
        ):
            raise ValueError(f"ok_statuses holds {code!r}, not a status code 100-599")
    return tuple(value)
