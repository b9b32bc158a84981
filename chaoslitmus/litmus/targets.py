"""How many pods a Litmus fault will hit, and what that leaves for retries.

Litmus pod-network-latency (litmus-go 3.x) targets
max(1, floor(min(PODS_AFFECTED_PERC, 100) * replicas / 100)) pods, one when
the percentage is empty or 0, or exactly the pods TARGET_PODS names (see
docs/litmus-behaviour.md). When every replica is slow, a mesh retry has no
healthy pod to go to: no retry policy can hide the fault then.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["headroom", "targeted_pods"]


def targeted_pods(replicas: int, pods_affected_perc: int | None = None) -> int:
    """Litmus' target count for `replicas` pods and a percentage."""
    percentage = min(int(pods_affected_perc or 0), 100)
    return max(1, math.floor(percentage * replicas / 100))


def headroom(replicas: int, targeted: int) -> dict[str, Any]:
    """What `targeted` slow pods out of `replicas` leave for retries."""
    targeted = min(targeted, replicas)
    untouched = replicas - targeted
    if untouched:
        note = (
            f"{targeted} of {replicas} replicas slowed: a retry can reach one of "
            f"the {untouched} others"
        )
    else:
        note = (
            f"all {replicas} replicas slowed: every retry meets the same latency, "
            "so no retry policy can hide this fault"
        )
    return {
        "replicas": replicas,
        "targeted": targeted,
        "untouched": untouched,
        "retries_can_help": untouched > 0,
        "note": note,
    }
