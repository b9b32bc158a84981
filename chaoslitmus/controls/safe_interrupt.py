"""A control that makes stopping a run safe.

chaostoolkit-lib 1.44 turns SIGTERM into an exception that, when it lands
inside a Python activity, only fails that activity: the run goes on and can
even report a false deviation. And after any interruption the first
rollback waits for the Litmus verdict, so the fault stays on until it ends.

Declared at the experiment level with the engine's name and namespace, this
control:

- makes SIGTERM behave like Ctrl-C (the run ends "interrupted" and, with
  `rollbacks.strategy: always`, every rollback runs);
- on an interruption, stops the ChaosEngine before the rollbacks start, so
  Litmus reverts the fault at once;
- while rollbacks run, takes the first Ctrl-C or SIGTERM as "hurry up"
  (stop the engine, keep rolling back) instead of abandoning the remaining
  rollbacks; a second one is passed on as usual.

    "controls": [{"name": "safe-interrupt", "provider": {
        "type": "python", "module": "chaoslitmus.controls.safe_interrupt",
        "arguments": {"engine_name": "${engine_name}",
                      "namespace": "${namespace}"}}}]
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

logger = logging.getLogger("chaostoolkit")

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Guard:
    """Signal handlers and what they saw, for one run."""

    def __init__(self) -> None:
        self.previous: dict[int, Any] = {}
        self.interrupted_by: str | None = None
        self.engine: tuple[str, str] | None = None
        self.secrets: dict | None = None
        self.engine_stopped = False
        self.ignored = 0

    def install(self, handler: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        for sig in SIGNALS:
            previous = signal.signal(sig, handler)
            self.previous.setdefault(sig, previous)

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous.clear()

    def stop_engine(self) -> None:
        if self.engine_stopped or not self.engine:
            return
        self.engine_stopped = True
        name, namespace = self.engine
        # Imported late: a control module must load even without a cluster.
        from chaoslitmus.litmus.actions import stop_engine

        try:
            outcome = stop_engine(name, namespace, secrets=self.secrets)
            logger.warning(
                "safe-interrupt: ChaosEngine '%s' stopped so Litmus reverts the "
                "fault now (%s)",
                name,
                outcome.get("reason") or "stopped",
            )
        except Exception as exc:  # rollbacks will still try delete_engine
            logger.error("safe-interrupt: could not stop '%s': %s", name, exc)


_guard = _Guard()


def _during_run(signum: int, frame: Any) -> None:
    _guard.interrupted_by = signal.Signals(signum).name
    raise KeyboardInterrupt


def _during_rollbacks(signum: int, frame: Any) -> None:
    if _guard.ignored >= 1:
        _guard.restore()
        raise KeyboardInterrupt
    _guard.ignored += 1
    logger.warning(
        "safe-interrupt: %s received while rollbacks run; stopping the fault and "
        "finishing the rollbacks (send it again to abandon them)",
        signal.Signals(signum).name,
    )
    _guard.stop_engine()


def _k8s_secrets(secrets: Any) -> dict | None:
    if isinstance(secrets, dict):
        scope = secrets.get("k8s")
        return scope if isinstance(scope, dict) else None
    return None


def before_experiment_control(
    context: Any,
    engine_name: str | None = None,
    namespace: str | None = None,
    secrets: Any = None,
    **kwargs: Any,
) -> None:
    """Take over SIGINT/SIGTERM for the run."""
    global _guard
    _guard = _Guard()
    if engine_name and namespace:
        _guard.engine = (engine_name, namespace)
    _guard.secrets = _k8s_secrets(secrets)
    _guard.install(_during_run)


def before_rollback_control(context: Any, **kwargs: Any) -> None:
    """Stop the engine if the run was interrupted; guard the rollbacks."""
    if _guard.interrupted_by:
        logger.warning(
            "safe-interrupt: run interrupted by %s; rolling back",
            _guard.interrupted_by,
        )
        _guard.stop_engine()
    _guard.install(_during_rollbacks)


def after_experiment_control(context: Any, **kwargs: Any) -> None:
    """Give the signal handlers back."""
    _guard.restore()


def cleanup_control() -> None:
    _guard.restore()
