"""After an OPC-UA server restart, a poller built as the agent builds it reads values again within the
session's reconnect time (``reconnect.max_s``) and one poll interval, not after the poll back-off's
line-share wait (20 s for a 1 s timeout): the session backs off on its own, and the poller follows it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from drivers.opcua.client import OpcUaDriver
from edge_agent.buffer.store import Buffer
from edge_agent.clock import SystemClock
from edge_agent.config.model import OpcUaBus
from edge_agent.config.resolved import ResolvedBus
from edge_agent.poll.build import build_pollers
from simulators.traffic.controller import TrafficController
from simulators.traffic.server import TrafficControllerServer
from tests.fixtures.traffic_sim import tlc_device

RECONNECT_MAX_S = 1.0


async def wait_for(check: object, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def test_values_resume_within_the_sessions_reconnect_time_after_a_server_restart(
    tmp_path: Path,
) -> None:
    model = TrafficController()
    first = TrafficControllerServer(model, port=0, refresh_s=0.1)
    await first.start()
    port = first.port
    device = tlc_device()
    bus = OpcUaBus.model_validate(
        {
            "kind": "opcua",
            "name": "tlc-bus",
            "endpoint": first.endpoint,
            "timeout_s": 1.0,
            "connect_timeout_s": 2.0,
            "keepalive_s": 0.5,
            "reconnect": {"initial_s": 0.25, "max_s": RECONNECT_MAX_S},
            "devices": [{"name": device.name, "profile": "traffic-controller"}],
        }
    )
    driver = OpcUaDriver(bus.name, bus, [device])
    clock = SystemClock()
    buffer = await Buffer.open(tmp_path / "b.db", gateway="gw", clock=clock, commit_interval_s=0)
    (poller,) = build_pollers(ResolvedBus(bus.name, bus, (device,)), driver, buffer, clock)
    task = asyncio.create_task(poller.run())
    second: TrafficControllerServer | None = None
    try:
        await wait_for(lambda: poller.health.online is True, 10, "the first values")
        await first.stop()
        await wait_for(lambda: poller.health.online is False, 10, "the poller to see the server gone")
        await asyncio.sleep(3 * RECONNECT_MAX_S)  # an outage of a few reconnect tries
        second = TrafficControllerServer(model, port=port, refresh_s=0.1)
        await second.start()
        limit = RECONNECT_MAX_S + device.poll_interval_s + 1.0  # + connecting and subscribing
        took = await wait_for(lambda: poller.health.online is True, limit, "values after the restart")
        assert took <= limit
        assert driver.stats.connects == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await driver.aclose()
        await buffer.close()
        if second is not None:
            await second.stop()
        await first.stop()
