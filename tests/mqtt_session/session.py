"""Building blocks of the session tests: a link running in a task, and waiting with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from mqtt_session import MqttLink


@contextlib.asynccontextmanager
async def running(link: MqttLink) -> AsyncIterator[MqttLink]:
    """``link`` connected, in a task; closed cleanly (DISCONNECT) on exit."""
    task = asyncio.create_task(link.run(), name="test-link")
    try:
        await asyncio.wait_for(link.connected.wait(), 5)
        yield link
    finally:
        await link.close()
        await asyncio.wait_for(task, 5)


async def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
