"""The one way the uplink's senders (the publisher, the outbox sender) idle: until there is work (their
``wake`` event), the link is lost, or ``timeout_s`` passes (the next confirmation deadline)."""

from __future__ import annotations

import asyncio
import contextlib


async def wait_for_work(wake: asyncio.Event, lost: asyncio.Event, timeout_s: float) -> None:
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
