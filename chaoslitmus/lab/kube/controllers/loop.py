"""A level-triggered controller loop over the lab Store.

Any change to a watched kind wakes the loop; one `reconcile()` pass then
reads the current state and converges it (the Go controllers' informer +
work queue, collapsed to "look at everything again": the lab holds tens of
objects). `reconcile()` may ask to run again after some seconds (timers
such as a container starting).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chaoslitmus.lab.kube.store import Store

__all__ = ["run_level_triggered"]

log = logging.getLogger("chaoslitmus.lab")

_RETRY_S = 0.5
_COALESCE_S = 0.005


async def run_level_triggered(
    store: Store,
    resources: Sequence[str],
    reconcile: Callable[[], float | None],
    name: str,
) -> None:
    """Run `reconcile` after every change to `resources`, until cancelled."""
    wake = asyncio.Event()

    async def follow(key: str) -> None:
        while True:
            try:
                async for _event in store.watch(key):
                    wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # kind not served, 410: watch again
                log.debug("%s controller: watch of %s ended (%s)", name, key, exc)
            wake.set()
            await asyncio.sleep(_RETRY_S)

    watches = [asyncio.ensure_future(follow(key)) for key in resources]
    wake.set()
    due: float | None = None
    try:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), due)
            await asyncio.sleep(_COALESCE_S)  # one pass for a burst of events
            wake.clear()
            try:
                due = reconcile()
            except Exception:
                log.exception("%s controller: reconcile failed", name)
                due = _RETRY_S
    finally:
        for task in watches:
            task.cancel()
        await asyncio.gather(*watches, return_exceptions=True)
