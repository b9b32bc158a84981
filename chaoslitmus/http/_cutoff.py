"""A process-wide "stop measuring" flag, raised when an SLO guard has aborted.

Chaos Toolkit waits for every background activity before it acts on an
interruption, so a guard that stops a run while a 10 s traffic window is
recording would otherwise wait for that window. When the flag is up,
``measure_endpoint`` sends no further request, waits for the ones in flight
and returns what it measured, marked ``cut_short``. The guard lowers the flag
before the rollbacks, so later measurements (recovery checks) run in full.
"""

from __future__ import annotations

import threading

__all__ = ["CUTOFF", "cut", "is_cut", "reset"]

CUTOFF = threading.Event()


def cut() -> None:
    """End every open-loop window in progress early."""
    CUTOFF.set()


def reset() -> None:
    """Let measurements run their full length again."""
    CUTOFF.clear()


def is_cut() -> bool:
    return CUTOFF.is_set()
