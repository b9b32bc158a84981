"""Open-loop arrival schedule: pure functions, no clock and no I/O.

Requests are due at fixed offsets from the start, whatever the server does.
A closed loop (send, wait for the answer, send the next) sends less when the
server stalls and so under-reports the stall ("coordinated omission"); a fixed
schedule keeps sending, and latency is counted from the *due* time, so time
spent waiting behind a stall is part of what callers see.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "MAX_IN_FLIGHT_CAP",
    "arrival_offsets",
    "default_max_in_flight",
    "due_until",
    "request_count",
]

# Default ceiling on concurrent requests (each holds a socket): enough for
# 200 req/s with a 5 s timeout, low enough for a default file-handle limit.
MAX_IN_FLIGHT_CAP = 1000


def request_count(rate_per_s: float, duration_s: float) -> int:
    """How many requests fit in the window: ceil(rate * duration), at least 1."""
    # The tolerance absorbs float noise: 0.1 * 30 is 3.0000000000000004.
    return max(1, math.ceil(rate_per_s * duration_s - 1e-9))


def arrival_offsets(rate_per_s: float, duration_s: float) -> list[float]:
    """Due offsets in seconds from the start, one every 1/rate seconds."""
    interval = 1.0 / rate_per_s
    return [i * interval for i in range(request_count(rate_per_s, duration_s))]


def due_until(offsets: Sequence[float], start_index: int, elapsed_s: float) -> int:
    """Index one past the last request due by ``elapsed_s``, from start_index.

    A sender that woke up late sends every request already due at once
    instead of drifting the rest of the schedule.
    """
    index = start_index
    while index < len(offsets) and offsets[index] <= elapsed_s:
        index += 1
    return index


def default_max_in_flight(rate_per_s: float, timeout_s: float) -> int:
    """Enough slots that nothing overflows while every request obeys its timeout.

    At most ``rate * timeout`` requests can be outstanding when each gives up
    after ``timeout_s``; one more covers rounding. Capped at
    MAX_IN_FLIGHT_CAP, beyond which requests are counted as overflow.
    """
    return max(1, min(MAX_IN_FLIGHT_CAP, math.ceil(rate_per_s * timeout_s) + 1))
