"""The seam between the lab's Litmus operator and the lab's data plane.

The operator decides *when* and *on which pods* chaos happens (as Litmus would);
a fault sink makes it *happen* (the data plane delays the chosen replicas'
responses). Keeping this a Protocol lets the operator run without a data plane
(tests, `lab up` without traffic) and lets the data plane stay unaware of Litmus.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["FaultSink", "RecordingFaultSink", "sink_call"]


@runtime_checkable
class FaultSink(Protocol):
    """What the operator needs from a data plane.

    `pod_deleted(namespace, pod)` and `pod_ready(namespace, pod)` are optional:
    the operator calls them only when the sink defines them (pod-delete).
    """

    def start_latency(
        self,
        fault_id: str,
        namespace: str,
        pod_names: list[str],
        latency_ms: int,
        jitter_ms: int,
    ) -> None:
        """Delay the responses of these pods until `stop(fault_id)`."""

    def stop(self, fault_id: str) -> None:
        """End the fault; must be idempotent (stop and revert may both call it)."""


@dataclass
class RecordingFaultSink:
    """A sink that only records calls, with monotonic timestamps, for tests and
    for a lab running without a data plane."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def _record(self, op: str, **details: Any) -> None:
        self.calls.append({"op": op, "t": time.monotonic(), **details})

    def start_latency(
        self,
        fault_id: str,
        namespace: str,
        pod_names: list[str],
        latency_ms: int,
        jitter_ms: int,
    ) -> None:
        self._record(
            "start_latency",
            fault_id=fault_id,
            namespace=namespace,
            pod_names=list(pod_names),
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
        )

    def stop(self, fault_id: str) -> None:
        self._record("stop", fault_id=fault_id)

    def pod_deleted(self, namespace: str, pod: str) -> None:
        self._record("pod_deleted", namespace=namespace, pod=pod)

    def pod_ready(self, namespace: str, pod: str) -> None:
        self._record("pod_ready", namespace=namespace, pod=pod)

    def of(self, op: str) -> list[dict[str, Any]]:
        """The recorded calls of one kind, in order."""
        return [c for c in self.calls if c["op"] == op]


def sink_call(sink: object | None, method: str, *args: Any) -> bool:
    """Call a sink method if the sink has it; True when it was called.

    Errors propagate: the operator logs them and carries on, because a broken
    data plane must not leave an engine initialized forever.
    """
    fn = getattr(sink, method, None) if sink is not None else None
    if fn is None:
        return False
    fn(*args)
    return True
