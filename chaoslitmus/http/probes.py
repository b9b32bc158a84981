"""Probes that measure what callers of an HTTP endpoint see.

``measure_endpoint`` sends open-loop traffic: requests leave at a fixed rate
whatever the server does, and each latency runs from the request's scheduled
send time. A closed loop such as ``while true; do curl ...; sleep 0.5; done``
sends less while the server stalls, so it records one slow request where
callers saw dozens; this probe records all of them. See ``_client`` for why
the client is aiohttp on a private event loop (with the measured figures).
"""

import logging
import time
from typing import Any, Dict, List

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Secrets

from chaoslitmus import _args
from chaoslitmus._redact import (
    clean,
    header_credentials,
    redact_url,
    url_credentials,
)
from chaoslitmus.http._client import run_in_private_loop, sample, send_once
from chaoslitmus.http._cutoff import CUTOFF
from chaoslitmus.http._plan import Plan, plan_measurement, request_spec
from chaoslitmus.http._schedule import arrival_offsets
from chaoslitmus.http.stats import summarize
from chaoslitmus.http.window import recovery_misses

__all__ = ["http_latency_ms", "http_status", "measure_endpoint", "wait_for_recovery"]

logger = logging.getLogger("chaostoolkit")


def measure_endpoint(
    url: str,
    duration_s: float = 10,
    rate_per_s: float = 10,
    method: str = "GET",
    headers: Dict[str, str] = None,
    body: str = None,
    timeout_s: float = 5,
    ok_statuses: List[int] = None,
    max_in_flight: int = 0,
    verify_tls: bool = True,
    secrets: Secrets = None,
) -> dict:
    """Send requests at a fixed rate for a while and report what callers saw.

    Requests leave every 1/rate_per_s seconds for duration_s seconds, even
    while earlier ones are still waiting, so a stalled server cannot slow the
    sender and hide its stall. Latency runs from each request's scheduled
    send time to its last body byte (or to its timeout/error). Connections
    are kept alive and reused; redirects are not followed.

    Arguments: `url` (http or https), `duration_s`, `rate_per_s`, `method`,
    `headers`, `body` (a string), `timeout_s` per request, `ok_statuses`
    (status codes that count as success; default every 2xx and 3xx),
    `max_in_flight` (outstanding requests at most; 0, the default, means
    enough for rate_per_s * timeout_s, capped at 1000; a request due while the limit is
    reached is not sent and counts as an "overflow" error, its latency the
    time until a slot came free or its timeout passed), `verify_tls`.

    Returns a dict: `total`, `ok`, `failed`, `error_rate` (0..1), `status`
    (the most frequent status code, 0 if none, so `"tolerance": 200` works),
    `statuses` {"200": n}, `errors` {"timeout": n, "connection": n, "reset": n,
    "protocol": n, "tls": n, "overflow": n, "other": n}, `latency_ms`
    {p50, p90, p95, p99, max, mean} (nearest-rank percentiles) and flat
    copies `p50_ms`... `mean_ms` for `range` tolerances with a `target`,
    `rate_per_s`, `achieved_rate_per_s`, `send_lag_ms`, `url`, `method`,
    `started_at` (ISO UTC), `duration_s`, `elapsed_s`, `error_examples`
    and `samples`: [offset_s, status or error kind, latency_ms] per request.
    Run it with `"background": true` to record a whole fault window. When an
    SLO guard (`chaoslitmus.controls.slo_guard`) aborts the run, no further
    request leaves and the result says `"cut_short": true`.
    A password in the URL and credential headers (`Authorization`,
    `Proxy-Authorization`, `Cookie`, ...) are sent but never shown: the
    output's `url` and every message carry `***` instead.
    """
    try:
        plan = plan_measurement(
            url,
            duration_s,
            rate_per_s,
            method,
            headers,
            body,
            timeout_s,
            ok_statuses,
            max_in_flight,
            verify_tls,
        )
    except ValueError as exc:
        hidden = _credentials(url, headers)
        raise ActivityFailed(f"measure_endpoint: {clean(str(exc), hidden)}") from None

    return _measure(plan, True, _credentials(url, headers))


def _measure(plan: Plan, stop_on_cutoff: bool, hidden: List[str]) -> Dict[str, Any]:
    offsets = arrival_offsets(plan.rate_per_s, plan.duration_s)
    stop = CUTOFF if stop_on_cutoff else None
    sampled = run_in_private_loop(lambda: sample(plan, offsets, stop))
    figures = summarize(
        sampled.outcomes,
        ok_statuses=plan.ok_statuses,
        rate_per_s=plan.rate_per_s,
        duration_s=plan.duration_s,
        elapsed_s=sampled.elapsed_s,
    )
    measured = {
        "url": redact_url(plan.request.url),
        "method": plan.request.method,
        "started_at": sampled.started_at.isoformat(timespec="milliseconds"),
        "max_in_flight": plan.max_in_flight,
        "percentile_method": "nearest-rank",
        **figures,
        "error_examples": {
            kind: clean(detail, hidden)
            for kind, detail in sampled.error_examples.items()
        },
    }
    if sampled.cut_short:
        measured["cut_short"] = True
    return measured


def wait_for_recovery(
    url: str,
    baseline_p99_ms: float = 0,
    max_error_ratio: float = 0,
    within_s: float = 60,
    window_s: float = 5,
    rate_per_s: float = 5,
    method: str = "GET",
    headers: Dict[str, str] = None,
    timeout_s: float = 5,
    ok_statuses: List[int] = None,
    verify_tls: bool = True,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Wait until callers of `url` see the service as it was before the fault.

    Measures back-to-back open-loop windows of `window_s` seconds at
    `rate_per_s` (as measure_endpoint does) and returns as soon as one window
    has an error ratio at most `max_error_ratio` and, when
    `baseline_p99_ms` is above 0, a p99 latency at most that (take it from the
    steady-state probe's `p99_ms` of a healthy run). Returns `recovered`,
    `recovered_after_s` (from the call to the start of the window that met
    the baseline, so an upper bound on the time to recover), `windows`
    measured and that window's figures. Fails with the last window's
    figures when no window met the baseline within `within_s` seconds.
    Use it as a rollback after the fault is undone: Chaos Toolkit runs
    rollbacks after the hypothesis, whatever the outcome.
    """
    name = "wait_for_recovery"
    try:
        plan = plan_measurement(
            url,
            window_s,
            rate_per_s,
            method,
            headers,
            None,
            timeout_s,
            ok_statuses,
            None,
            verify_tls,
        )
        baseline = (
            _args.number(baseline_p99_ms, "baseline_p99_ms", maximum=_args.MAX_MS)
            or None
        )
        max_ratio = _args.number(max_error_ratio, "max_error_ratio", maximum=1)
        budget_s = _args.number(
            within_s, "within_s", above=True, maximum=_args.MAX_SECONDS
        )
    except ValueError as exc:
        # plan_measurement names the window "duration_s"; here it is window_s.
        message = str(exc).replace("duration_s", "window_s")
        hidden = _credentials(url, headers)
        raise ActivityFailed(f"{name}: {clean(message, hidden)}") from None
    if budget_s < plan.duration_s:
        raise ActivityFailed(
            f"{name}: within_s ({within_s!r}) must be at least window_s "
            f"({plan.duration_s:g}): one whole window must fit"
        )

    hidden = _credentials(url, headers)
    shown = redact_url(plan.request.url)
    began = time.monotonic()
    windows = 0
    while True:
        window_start_s = time.monotonic() - began
        measured = _measure(plan, False, hidden)
        windows += 1
        misses = recovery_misses(measured, max_ratio, baseline)
        figures = _window_figures(measured, window_start_s)
        if not misses:
            after_s = round(window_start_s, 3)
            logger.info("%s: %s recovered after %.1fs", name, shown, after_s)
            return {
                "url": shown,
                "recovered": True,
                "recovered_after_s": after_s,
                "windows": windows,
                "window": figures,
                "message": (
                    f"{plan.request.method} {shown} met the baseline "
                    f"{after_s:g}s after the check began ({windows} window(s) of "
                    f"{plan.duration_s:g}s)"
                ),
            }
        if time.monotonic() - began + plan.duration_s > budget_s:
            raise ActivityFailed(
                f"{name}: {plan.request.method} {shown} did not recover "
                f"within {budget_s:g}s ({windows} window(s) of {plan.duration_s:g}s); "
                f"last window: {'; '.join(misses)}; p50 "
                f"{figures['p50_ms']:g} ms, p99 {figures['p99_ms']:g} ms over "
                f"{figures['total']} requests"
            )


def _window_figures(measured: Dict[str, Any], start_s: float) -> Dict[str, Any]:
    latency = measured.get("latency_ms") or {}
    return {
        "start_s": round(start_s, 3),
        "total": measured["total"],
        "failed": measured["failed"],
        "error_rate": measured["error_rate"],
        "statuses": measured["statuses"],
        "errors": {k: n for k, n in measured["errors"].items() if n},
        "p50_ms": latency.get("p50", 0.0),
        "p99_ms": latency.get("p99", 0.0),
        "max_ms": latency.get("max", 0.0),
    }


def http_status(
    url: str,
    method: str = "GET",
    headers: Dict[str, str] = None,
    body: str = None,
    timeout_s: float = 5,
    verify_tls: bool = True,
    secrets: Secrets = None,
) -> int:
    """Send one request and return its HTTP status code (redirects not followed).

    Any status is a result, 500 included, so a tolerance can judge it; no
    answer at all (refused, reset, timed out) fails the probe with the reason.
    """
    status, _ = _one_request(
        "http_status", url, method, headers, body, timeout_s, verify_tls
    )
    return status


def http_latency_ms(
    url: str,
    method: str = "GET",
    headers: Dict[str, str] = None,
    body: str = None,
    timeout_s: float = 5,
    verify_tls: bool = True,
    secrets: Secrets = None,
) -> float:
    """Send one request and return the milliseconds until its last body byte.

    The time includes opening the connection, as a first call would see it.
    Whatever the status; no answer at all fails the probe with the reason.
    """
    _, latency_ms = _one_request(
        "http_latency_ms", url, method, headers, body, timeout_s, verify_tls
    )
    return latency_ms


def _one_request(
    probe: str,
    url: object,
    method: object,
    headers: object,
    body: object,
    timeout_s: object,
    verify_tls: object,
) -> tuple[int, float]:
    try:
        request = request_spec(url, method, headers, body, timeout_s, verify_tls)
    except ValueError as exc:
        hidden = _credentials(url, headers)
        raise ActivityFailed(f"{probe}: {clean(str(exc), hidden)}") from None
    status, error, detail, latency_ms = run_in_private_loop(lambda: send_once(request))
    if status is None:
        hidden = _credentials(url, headers)
        raise ActivityFailed(
            f"{probe}: no answer from {request.method} {redact_url(request.url)} "
            f"({error}: {clean(detail, hidden)}); {_advice(error, request.timeout_s)}"
        )
    return status, round(latency_ms, 3)


def _credentials(url: object, headers: object) -> list[str]:
    """What must never be shown: the URL's password, credential headers."""
    return url_credentials(url) + header_credentials(headers)


def _advice(error: str | None, timeout_s: float) -> str:
    if error == "timeout":
        return (
            f"the server took longer than timeout_s={timeout_s:g}; "
            "raise it or check the service"
        )
    if error == "connection":
        return "check that the service listens at that host and port"
    if error == "tls":
        return "check the certificate, or pass verify_tls=false for a test endpoint"
    return "check the service logs"
