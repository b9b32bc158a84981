"""Access-log lines of the lab's app servers, into their pods' logs.

Each ratings or reviews server logs one line per request in the combined
log format (client, time, request line, status, size, referer, user
agent), so `kubectl logs` of an app pod shows its traffic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chaoslitmus.lab.kube.podlogs import PodLogs

__all__ = ["access_logging"]

COMBINED_FORMAT = '%a - - %t "%r" %s %b "%{Referer}i" "%{User-Agent}i"'


class _PodLogTarget:
    """What aiohttp's AccessLogger takes for a `logging.Logger`."""

    def __init__(self, logs: PodLogs, namespace: str, pod: Callable[[], str]) -> None:
        self.logs = logs
        self.namespace = namespace
        self.pod = pod

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 (logging's name)
        return level >= logging.INFO

    def info(self, message: str, *args: Any, **kwargs: Any) -> None:
        name = self.pod()
        if name:
            self.logs.write(self.namespace, name, message % args if args else message)


def access_logging(
    logs: PodLogs | None, namespace: str, pod: Callable[[], str] | None
) -> dict[str, Any]:
    """AppRunner keyword arguments: log to the pod, or not at all."""
    if logs is None or pod is None:
        return {"access_log": None}
    return {
        "access_log": _PodLogTarget(logs, namespace, pod),
        "access_log_format": COMBINED_FORMAT,
    }
