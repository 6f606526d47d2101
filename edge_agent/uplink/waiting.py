"""The one way the uplink's senders (the publisher, the outbox sender) idle: until there is work (their
``wake`` event), the link is lost, or ``timeout_s`` passes (the next confirmation deadline).

The publisher idles here once per round, and on the live path a round comes with every poll and every
confirmation (about 80 a second at 50 devices polled every second), so the wait is one future hooked
into both events and one timer: no task per event, nothing to cancel afterwards (two ``ensure_future``
tasks, ``asyncio.wait`` and ``asyncio.timeout`` cost about 55 µs a round, this about 13 µs).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any


async def wait_for_work(wake: asyncio.Event, lost: asyncio.Event, timeout_s: float) -> None:
    if wake.is_set() or lost.is_set():
        await asyncio.sleep(0)  # the work is there already: let the loop's other callbacks run first
        return
    wake_waiters, lost_waiters = _waiters(wake), _waiters(lost)
    if wake_waiters is None or lost_waiters is None:
        await _wait_with_tasks(wake, lost, timeout_s)
        return
    # Event.set() resolves every future in its waiter list: one future in both lists wakes on either.
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    timer = asyncio.get_running_loop().call_later(timeout_s, _resolve, fut)
    wake_waiters.append(fut)
    lost_waiters.append(fut)
    try:
        await fut
    finally:
        timer.cancel()
        wake_waiters.remove(fut)
        lost_waiters.remove(fut)


def _waiters(event: asyncio.Event) -> deque[asyncio.Future[Any]] | None:
    """The event's list of waiting futures (CPython's ``asyncio.Event``, 3.11 to 3.13); None if the
    event keeps them some other way."""
    waiters = getattr(event, "_waiters", None)
    return waiters if isinstance(waiters, deque) else None


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _wait_with_tasks(wake: asyncio.Event, lost: asyncio.Event, timeout_s: float) -> None:
    # asyncio.timeout, not wait_for: 3.11's wait_for swallows a cancellation that arrives as the wait
    # ends (the link's own cancellation ends it), and the sender would never stop.
    woken = asyncio.ensure_future(wake.wait())
    gone = asyncio.ensure_future(lost.wait())
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await asyncio.wait({woken, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        woken.cancel()
        gone.cancel()
