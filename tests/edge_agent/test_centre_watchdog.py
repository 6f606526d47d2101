"""The traffic controller's central watchdog is fed through the real OPC-UA driver while the centre is
heard from, and the controller (sim-tlc) falls back to its own programme when the agent stops feeding it
because the centre went quiet."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from drivers.opcua.client import OpcUaDriver
from edge_agent.clock import ManualClock
from edge_agent.commands.watchdog import CentreWatchdogFeeder
from simulators.traffic.controller import TrafficController
from simulators.traffic.server import TrafficControllerServer
from tests.drivers.conftest import SteppedClock
from tests.fixtures.traffic_sim import link, tlc_device


@pytest.fixture
async def controller() -> AsyncIterator[tuple[TrafficController, SteppedClock, OpcUaDriver]]:
    clock = SteppedClock()
    model = TrafficController(now=clock, watchdog_s=120.0)
    clock.advance(10)  # past the start-up
    async with TrafficControllerServer(model, port=0, refresh_s=0.05) as server:
        driver = OpcUaDriver("tlc-bus", link(server.endpoint), [tlc_device()])
        try:
            yield model, clock, driver
        finally:
            await driver.aclose()


def starved(model: TrafficController) -> bool:
    return bool(model.snapshot().alarms["A0007"])


async def test_fed_while_the_centre_is_heard_and_falls_back_when_it_goes_quiet(
    controller: tuple[TrafficController, SteppedClock, OpcUaDriver],
) -> None:
    model, sim_clock, driver = controller
    agent_clock = ManualClock()
    heard: list[float | None] = [agent_clock.monotonic()]  # a confirmation just came
    feeder = CentreWatchdogFeeder(
        call=driver.call, devices=["tlc"], last_heard=lambda: heard[0], clock=agent_clock, period_s=10
    )
    for _ in range(5):  # 50 s of the agent's time, 100 s of the controller's: fed, never starved
        await feeder.feed_once()
        await agent_clock.advance(10, step=10)
        sim_clock.advance(20)
        heard[0] = agent_clock.monotonic()  # confirmations keep coming
    assert feeder.fed == 5
    assert not starved(model)

    await agent_clock.advance(61, step=61)  # the centre has been quiet for over 60 s
    await feeder.feed_once()
    assert feeder.fed == 5  # not fed any more
    sim_clock.advance(120 - 20 - 1)  # the last heartbeat was 20 s ago on the controller's clock
    assert not starved(model)  # its own watchdog time has not run out yet
    sim_clock.advance(2)
    assert starved(model)  # it falls back to its own programme


async def test_never_heard_means_never_fed(
    controller: tuple[TrafficController, SteppedClock, OpcUaDriver],
) -> None:
    _, _, driver = controller
    feeder = CentreWatchdogFeeder(
        call=driver.call, devices=["tlc"], last_heard=lambda: None, clock=ManualClock()
    )
    await feeder.feed_once()
    assert feeder.fed == 0
    assert not feeder.centre_alive()
