"""A control that stops the fault before users get hurt: an SLO guard.

The steady-state hypothesis answers "is the policy good?" and is judged
after the method; the guard answers "must we stop now?" while the method
runs. From the start of the method until the rollbacks it sends open-loop
traffic to `url` (the sampler of `measure_endpoint`, in a thread of its
own) and judges a sliding window against an abort limit that is separate
from the hypothesis. On a breach it:

1. stops every ChaosEngine of the run (`engineState: stop`, so Litmus
   reverts the fault at once): the one named in its arguments and any that
   an activity of `chaoslitmus.litmus.actions` reported launching;
2. ends the run's traffic windows early (they return `cut_short`);
3. interrupts the run the way Chaos Toolkit expects from a control, by
   raising `InterruptExecution` at the next step of the run thread (the run
   ends "interrupted"); with `rollbacks.strategy: always` the rollbacks run
   (record the verdict, delete the engine, restore the mesh);
4. writes what breached, when, and the window's figures under `slo_guard`
   in the journal.

A guard that cannot reach its URL when the method starts interrupts the run
before any fault. Declared at the experiment level:

    "controls": [{"name": "slo-guard", "provider": {
        "type": "python", "module": "chaoslitmus.controls.slo_guard",
        "arguments": {"url": "${reviews_url}",
                      "abort_when": {"error_ratio_above": 0.8, "window_s": 5},
                      "engine_name": "${engine_name}",
                      "namespace": "${namespace}"}}}]

`abort_when` keys: `window_s` (default 5), `error_ratio_above` (0..1),
`latency_ms_above` with `percentile` (default 99), `min_requests` (the
window is judged once it holds that many; default half of what it should
hold). Other arguments: `rate_per_s` (5), `timeout_s` per request (5),
`method`, `headers`, `ok_statuses`, `verify_tls`, `max_in_flight`.
See docs/safety.md.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from chaoslib.exceptions import InterruptExecution, InvalidControl

from chaoslitmus._redact import clean, header_credentials, redact_url, url_credentials
from chaoslitmus.controls._slo_guard_config import GuardConfig, parse_config
from chaoslitmus.http import _cutoff
from chaoslitmus.http._stream import Feed, stream
from chaoslitmus.http.stats import Outcome
from chaoslitmus.http.window import SlidingWindow, breaches

__all__ = [
    "after_activity_control",
    "after_experiment_control",
    "after_hypothesis_control",
    "after_method_control",
    "before_activity_control",
    "before_experiment_control",
    "before_hypothesis_control",
    "before_method_control",
    "before_rollback_control",
    "cleanup_control",
    "validate_control",
]

logger = logging.getLogger("chaostoolkit")

JOURNAL_KEY = "slo_guard"
LAUNCHERS = "chaoslitmus.litmus.actions"
# How long the run thread waits for the engines to be stopped before it
# interrupts anyway (the rollbacks stop and delete them too).
_STOP_WAIT_S = 60.0
_JOIN_S = 30.0


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class _Guard(Feed):
    """One run's guard: the traffic thread, the window and what happened."""

    def __init__(self, config: GuardConfig, run_thread: int) -> None:
        self.config = config
        self.run_thread = run_thread
        self.window = SlidingWindow(config.limits.window_s, config.ok_statuses)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.acted = threading.Event()  # the breach has been acted upon
        self.thread: threading.Thread | None = None
        self.worker: threading.Thread | None = None
        self.engines: dict[tuple[str, str], dict | None] = {}
        if config.engine:
            self.engines[config.engine] = config.k8s_secrets
        self.shown_url = redact_url(config.request.url)
        self.record: dict[str, Any] = {
            "url": self.shown_url,
            "method": config.request.method,
            "abort_when": config.abort_when,
            "rate_per_s": config.rate_per_s,
            "min_requests": config.min_requests,
            "status": "not started",
        }
        self.started = 0.0
        self.known = 0
        self.worst: dict[str, Any] | None = None
        self.last: dict[str, Any] | None = None
        self.breach: dict[str, Any] | None = None
        self.closed = False
        self.raised = False
        self.current_activity = ""

    # --- traffic thread -----------------------------------------------------

    def outcome(self, outcome: Outcome, known_at_s: float) -> None:
        self.known += 1
        self.window.add(outcome, known_at_s)

    def tick(self, now_s: float, waiting_since_s: list[float]) -> None:
        if self.breach is not None:
            return
        limits = self.config.limits
        figures = self.window.figures(now_s, waiting_since_s, limits)
        self.last = figures
        if self.worst is None or _worse(figures, self.worst, limits.percentile):
            self.worst = figures
        reasons = breaches(figures, limits, self.config.min_requests)
        if reasons:
            self._breached(reasons, figures)

    def _run_stream(self) -> None:
        config = self.config
        try:
            asyncio.run(
                stream(
                    config.request,
                    config.rate_per_s,
                    config.max_in_flight,
                    self,
                    self.stop,
                )
            )
        except Exception as exc:  # a blind guard must not let the fault run on
            logger.exception("slo-guard: the traffic thread failed")
            self._breached([f"the guard itself failed: {exc}"], self.last or {})

    # --- breach -------------------------------------------------------------

    def _breached(self, reasons: list[str], figures: dict[str, Any]) -> None:
        with self.lock:
            if self.closed or self.breach is not None:
                return
            self.breach = {
                "at": _now_iso(),
                "after_start_s": round(time.monotonic() - self.started, 3),
                "during": self.current_activity,
                "reasons": reasons,
                "window": figures,
            }
            self.breach_clock = time.monotonic()
            self.worker = threading.Thread(
                target=self._act, name="chaoslitmus-slo-guard-stop", daemon=True
            )
            self.worker.start()
        logger.warning("slo-guard: abort limit breached: %s", "; ".join(reasons))

    def _act(self) -> None:
        """Stop the engines first, then let the run be interrupted."""
        # Imported late: a control module must load even without a cluster.
        from chaoslitmus.litmus.actions import stop_engine

        stopped = []
        with self.lock:
            engines = list(self.engines.items())
        for (name, namespace), secrets in engines:
            entry: dict[str, Any] = {
                "engine_name": name,
                "namespace": namespace,
                "requested_at": _now_iso(),
            }
            try:
                outcome = stop_engine(name, namespace, secrets=secrets)
                entry["stopped"] = bool(outcome.get("stopped"))
                if outcome.get("reason"):
                    entry["reason"] = outcome["reason"]
            except Exception as exc:  # the rollbacks still delete the engine
                entry["stopped"] = False
                entry["error"] = str(exc).splitlines()[0] if str(exc) else repr(exc)
            entry["at"] = _now_iso()
            entry["after_breach_s"] = round(time.monotonic() - self.breach_clock, 3)
            stopped.append(entry)
            logger.warning(
                "slo-guard: ChaosEngine '%s' in '%s': %s",
                name,
                namespace,
                "stopped, Litmus reverts the fault"
                if entry["stopped"]
                else entry.get("reason") or entry.get("error") or "not stopped",
            )
        if self.breach is not None:
            self.breach["engines"] = stopped
        _cutoff.cut()
        self.acted.set()

    # --- run thread ---------------------------------------------------------

    def interrupt_if_breached(self) -> None:
        """Raise InterruptExecution on the run thread once, after a breach."""
        if self.breach is None or self.raised or self.closed:
            return  # once the rollbacks began, an interruption would cut them
        if threading.get_ident() != self.run_thread:
            return  # background activities: the run thread raises
        self.acted.wait(_STOP_WAIT_S)
        self.raised = True
        self.record["interrupted"] = True
        raise InterruptExecution(self.message())

    def message(self) -> str:
        breach = self.breach or {}
        engines = breach.get("engines") or []
        stopped = [e["engine_name"] for e in engines if e.get("stopped")]
        where = f" during '{breach['during']}'" if breach.get("during") else ""
        return (
            f"slo-guard: {self.config.request.method} {self.shown_url} "
            f"broke the abort limit{where}, {breach.get('after_start_s', 0):g}s "
            f"after the guard started: {'; '.join(breach.get('reasons') or [])}; "
            + (
                f"stopped ChaosEngine {', '.join(stopped)}"
                if stopped
                else "no ChaosEngine to stop"
            )
            + "; rolling back"
        )

    def start(self) -> None:
        self.started = time.monotonic()
        self.record["started_at"] = _now_iso()
        self.record["status"] = "watching"
        self.thread = threading.Thread(
            target=self._run_stream, name="chaoslitmus-slo-guard", daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        """Stop watching (before the rollbacks); wait for a breach in progress."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
        self.stop.set()
        if self.thread is not None:
            self.thread.join(_JOIN_S)
        if self.worker is not None:
            self.worker.join(_STOP_WAIT_S)
        _cutoff.reset()
        if self.thread is None:
            return
        self.record["ended_at"] = _now_iso()
        self.record["watched_s"] = round(time.monotonic() - self.started, 3)
        self.record["requests"] = self.known
        self.record["worst_window"] = self.worst
        self.record["last_window"] = self.last
        if self.breach is not None:
            self.record["status"] = "breached"
            self.record["breach"] = self.breach
            self.record["message"] = self.message()
        else:
            self.record["status"] = "silent"
            self.record["message"] = (
                f"slo-guard: {self.config.limits.describe()} never happened in "
                f"{self.record['watched_s']:g}s of traffic ({self.known} requests)"
            )


def _worse(a: dict[str, Any], b: dict[str, Any], rank: int) -> bool:
    key = f"p{rank}_ms"
    return (a["error_ratio"], a.get(key, 0.0)) > (b["error_ratio"], b.get(key, 0.0))


_guard: _Guard | None = None
_failure: dict[str, Any] | None = None


def validate_control(control: Mapping[str, Any]) -> None:
    """`chaos validate`: check the literal arguments (placeholders are skipped)."""
    arguments = (control.get("provider") or {}).get("arguments") or {}
    try:
        parse_config(arguments, None, literal_only=True)
    except ValueError as exc:
        raise InvalidControl(f"control '{control.get('name')}': {exc}") from None


def before_experiment_control(
    context: Any,
    secrets: Any = None,
    settings: Any = None,
    **arguments: Any,
) -> None:
    """Read the arguments; a bad one interrupts the run before anything runs."""
    global _guard, _failure
    _cutoff.reset()
    _guard, _failure = None, None
    try:
        config = parse_config(arguments, secrets)
    except ValueError as exc:
        _failure = {"status": "misconfigured", "message": f"slo-guard: {exc}"}
        raise InterruptExecution(_failure["message"]) from None
    _guard = _Guard(config, threading.get_ident())
    strategy = (((settings or {}).get("runtime") or {}).get("rollbacks") or {}).get(
        "strategy", "default"
    )
    if strategy != "always":
        logger.warning(
            "slo-guard: rollbacks strategy is %r: after the guard interrupts a "
            "run, Chaos Toolkit runs rollbacks only with 'always'",
            strategy,
        )


def before_method_control(context: Any, **kwargs: Any) -> None:
    """Check the URL answers, then start watching; unreachable: no fault runs."""
    global _failure
    guard = _guard
    if guard is None:
        return
    # Imported late: the probe path is only needed when the method starts.
    from chaoslitmus.http._client import run_in_private_loop, send_once

    request = guard.config.request
    status, error, detail, _ = run_in_private_loop(lambda: send_once(request))
    if status is None:
        hidden = url_credentials(request.url) + header_credentials(
            dict(request.headers)
        )
        detail = clean(detail, hidden)
        _failure = {
            **guard.record,
            "status": "unreachable",
            "message": (
                f"slo-guard: cannot reach {request.method} {guard.shown_url} ({error}: "
                f"{detail}); the method (and its fault) did not start"
            ),
        }
        raise InterruptExecution(_failure["message"])
    guard.start()
    logger.info(
        "slo-guard: watching %s %s (abort when %s)",
        request.method,
        guard.shown_url,
        guard.config.limits.describe(),
    )


def before_activity_control(context: Any, **kwargs: Any) -> None:
    if _guard is not None:
        if isinstance(context, Mapping):
            _guard.current_activity = str(context.get("name") or "")
        _guard.interrupt_if_breached()


def after_activity_control(
    context: Any, state: Any = None, secrets: Any = None, **kwargs: Any
) -> None:
    """Learn the engines the run launched; interrupt after a breach."""
    guard = _guard
    if guard is None:
        return
    for engine in _launched(context, state):
        with guard.lock:
            if engine not in guard.engines:
                guard.engines[engine] = _scoped(secrets, context)
    guard.interrupt_if_breached()


def after_method_control(context: Any, **kwargs: Any) -> None:
    if _guard is not None:
        _guard.interrupt_if_breached()


def before_hypothesis_control(context: Any, **kwargs: Any) -> None:
    if _guard is not None:
        _guard.interrupt_if_breached()


def after_hypothesis_control(context: Any, **kwargs: Any) -> None:
    if _guard is not None:
        _guard.interrupt_if_breached()


def before_rollback_control(context: Any, **kwargs: Any) -> None:
    """The guard watches until the rollbacks: stop, and keep the record."""
    if _guard is not None:
        _guard.close()


def after_experiment_control(context: Any, state: Any = None, **kwargs: Any) -> None:
    """Write the guard's record into the journal."""
    guard = _guard
    if guard is not None:
        guard.close()  # no rollbacks ran (strategy)
    record = _failure if _failure is not None else (guard.record if guard else None)
    if record is not None and isinstance(state, dict):
        state[JOURNAL_KEY] = record


def cleanup_control() -> None:
    if _guard is not None:
        _guard.close()
    _cutoff.reset()


def _launched(context: Any, state: Any) -> list[tuple[str, str]]:
    """(engine, namespace) pairs a Litmus launch activity reported."""
    if not isinstance(context, Mapping) or not isinstance(state, Mapping):
        return []
    provider = context.get("provider") or {}
    if provider.get("module") != LAUNCHERS:
        return []
    output = state.get("output")
    items = output if isinstance(output, list) else [output]
    found = []
    for item in items:
        if isinstance(item, Mapping):
            name, namespace = item.get("engine_name"), item.get("namespace")
            if isinstance(name, str) and isinstance(namespace, str) and name:
                found.append((name, namespace))
    return found


def _scoped(secrets: Any, activity: Any) -> dict | None:
    """The secrets an activity used: its provider's scopes, merged."""
    if not isinstance(secrets, Mapping) or not isinstance(activity, Mapping):
        return None
    merged: dict = {}
    for scope in (activity.get("provider") or {}).get("secrets") or []:
        values = secrets.get(scope)
        if isinstance(values, Mapping):
            merged.update(values)
    return merged or None
