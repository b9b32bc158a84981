"""Open-loop traffic with no planned end, for a guard that watches a service.

The same sender as ``_client.sample`` (fixed arrival times, latency from the
due time, an in-flight cap whose refusals count as "overflow"), but it runs
until told to stop and hands each outcome over as soon as it is known, with
the moment it became known, so a sliding window can be judged while the
traffic goes on.
"""

from __future__ import annotations

import asyncio
import threading

from chaoslitmus.http._client import _EARLY_S, _send, _session, _Slots
from chaoslitmus.http._plan import RequestSpec
from chaoslitmus.http.stats import Outcome

__all__ = ["Feed", "stream"]

# Seconds between two looks at the window (and at the stop flag).
TICK_S = 0.1


class Feed:
    """Where the stream reports: override what you need (called on the loop)."""

    def outcome(self, outcome: Outcome, known_at_s: float) -> None:
        """One request ended (or was refused) ``known_at_s`` after the start."""

    def tick(self, now_s: float, waiting_since_s: list[float]) -> None:
        """Every TICK_S: the time, and the due offsets of requests in flight."""


async def stream(
    request: RequestSpec,
    rate_per_s: float,
    max_in_flight: int,
    feed: Feed,
    stop: threading.Event,
) -> float:
    """Send ``rate_per_s`` requests a second until ``stop`` is set.

    Returns the seconds it ran. Requests still in flight when it stops are
    cancelled and not reported.
    """
    loop = asyncio.get_running_loop()
    slots = _Slots(max_in_flight)
    interval = 1.0 / rate_per_s
    in_flight: dict[int, float] = {}
    pending: set[asyncio.Task[None]] = set()

    async with _session(request, max_in_flight) as session:
        start = loop.time()

        async def one(index: int, due_offset: float) -> None:
            due = start + due_offset
            if not slots.take():
                feed.outcome(
                    Outcome(due_offset, None, None, "overflow", 0.0),
                    loop.time() - start,
                )
                return
            in_flight[index] = due_offset
            sent = loop.time()
            try:
                status, error, _ = await _send(
                    session, request, due + request.timeout_s - sent
                )
            finally:
                slots.give_back()
                in_flight.pop(index, None)
            done = loop.time()
            feed.outcome(
                Outcome(
                    due_offset,
                    sent - start,
                    status,
                    error,
                    (done - max(due, sent)) * 1000.0,
                ),
                done - start,
            )

        index = 0
        next_tick = 0.0
        while not stop.is_set():
            now = loop.time() - start
            while index * interval <= now + _EARLY_S:
                task = loop.create_task(one(index, index * interval))
                pending.add(task)
                task.add_done_callback(pending.discard)
                index += 1
            if now >= next_tick:
                feed.tick(now, sorted(in_flight.values()))
                next_tick = now + TICK_S
            wake = min(index * interval, next_tick) - (loop.time() - start)
            await asyncio.sleep(max(wake - _EARLY_S, 0.0))
        # Requests still in flight are abandoned, not awaited: the guard's
        # verdict is made, and the rollbacks should not wait for a timeout.
        for task in list(pending):
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        return loop.time() - start
