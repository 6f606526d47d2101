"""A server restart: the driver notices the lost session, reconnects (with a fresh client, the same
security, after its back-off) and re-creates its subscriptions, so values flow again without a restart
of the agent (peers.md: OPC-UA session fragility)."""

from __future__ import annotations

import asyncio
import contextlib

from drivers.errors import DeviceUnreachable
from drivers.opcua.client import OpcUaDriver
from simulators.traffic.controller import TrafficController
from simulators.traffic.server import TrafficControllerServer
from tests.drivers.conftest import SteppedClock
from tests.fixtures.traffic_sim import expected, link, tlc_device, until, values


async def test_after_a_server_restart_the_subscriptions_are_recreated_and_values_flow() -> None:
    clock = SteppedClock()
    model = TrafficController(now=clock)
    clock.advance(10)
    first = TrafficControllerServer(model, port=0, refresh_s=0.05)
    await first.start()
    endpoint, port = first.endpoint, first.port
    driver = OpcUaDriver(
        "tlc-bus", link(endpoint, reconnect={"initial_s": 0.2, "max_s": 0.5}), [tlc_device()]
    )
    second: TrafficControllerServer | None = None
    try:
        assert values(await driver.read("tlc")) == expected(model.snapshot())
        await first.stop()  # the server goes away: its socket closes, the session with it

        async def lost() -> bool:
            try:
                await driver.read("tlc")
            except DeviceUnreachable:
                return True
            return False

        await until(lost, timeout=5, what="the driver to notice the server is gone")
        assert not driver.connected
        failures = driver.stats.connect_failures
        loop = asyncio.get_running_loop()
        end = loop.time() + 1.5
        while loop.time() < end:  # a poller reading 20 times a second during the outage
            with contextlib.suppress(DeviceUnreachable):
                await driver.read("tlc")
            await asyncio.sleep(0.05)
        # tries after 0 + 0.2 + 0.4 + 0.5 + 0.5 s: a handful, not one per read
        assert 2 <= driver.stats.connect_failures - failures <= 6

        clock.advance(20)  # the intersection moved on meanwhile
        second = TrafficControllerServer(model, port=port, refresh_s=0.05)
        await second.start()

        async def back() -> bool:
            try:
                return values(await driver.read("tlc")) == expected(model.snapshot())
            except DeviceUnreachable:
                return False

        await until(back, timeout=10, what="the driver to reconnect")
        assert driver.stats.connects == 2
        assert driver.stats.losses == 1
        notifications = driver.stats.notifications

        clock.advance(30)  # a change after the reconnect arrives by the new subscription
        await second.refresh()

        async def flowing() -> bool:
            return values(await driver.read("tlc")) == expected(model.snapshot())

        await until(flowing, timeout=5, what="notifications on the re-created subscription")
        assert driver.stats.notifications > notifications
        assert driver.stats.connects == 2  # not by reconnecting again
    finally:
        await driver.aclose()
        if second is not None:
            await second.stop()
        await first.stop()
