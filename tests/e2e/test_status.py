"""The gateway's retained status: online while connected, the last will on a kill -9, offline on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from harness.stack import Stack
from mqtt_session import Message, MqttLink
from wire import topics
from wire.status import GatewayStatus, LinkState, decode_status

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path, luminaires=2, poll_interval_s=1.0)
    s.start()
    try:
        yield s
    finally:
        s.stop()


async def next_status(
    queue: asyncio.Queue[GatewayStatus], state: LinkState, timeout: float = 15
) -> GatewayStatus:
    async with asyncio.timeout(timeout):
        while True:
            status = await queue.get()
            if status.state is state:
                return status


@contextlib.asynccontextmanager
async def watching(
    stack: Stack, client_id: str
) -> AsyncIterator[tuple[asyncio.Queue[GatewayStatus], list[bool]]]:
    """Subscribe to the gateway's status topic; yields the decoded statuses and their retain flags."""
    assert stack.broker is not None
    queue: asyncio.Queue[GatewayStatus] = asyncio.Queue()
    flags: list[bool] = []

    def on_message(msg: Message) -> None:
        flags.append(msg.retain)
        queue.put_nowait(decode_status(msg.payload))

    watcher = MqttLink(client_id=client_id, host=stack.broker.host, port=stack.broker.port)
    watcher.route(topics.topic(stack.site, stack.gateway, topics.TopicKind.STATUS), on_message)
    task = asyncio.create_task(watcher.run())
    try:
        yield queue, flags
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_status_online_will_and_clean_offline(stack: Stack) -> None:
    assert stack.agent is not None
    async with watching(stack, "status-watcher") as (queue, _):
        online = await next_status(queue, LinkState.ONLINE)
        assert online.ts_ms is not None
        stack.agent.kill()  # no goodbye: the broker publishes the last will
        will = await next_status(queue, LinkState.OFFLINE)
        assert will.ts_ms is None
        await asyncio.to_thread(stack.agent.start)
        await next_status(queue, LinkState.ONLINE)
        await asyncio.to_thread(stack.agent.stop)  # SIGTERM: a clean, timestamped offline
        clean = await next_status(queue, LinkState.OFFLINE)
        assert clean.ts_ms is not None
    # A late subscriber sees the last state at once: it is retained.
    async with watching(stack, "status-late") as (late, flags):
        status = await next_status(late, LinkState.OFFLINE, timeout=10)
        assert status.ts_ms is not None
        assert flags == [True]
