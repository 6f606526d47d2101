"""The OPC-UA driver against sim-tlc as a real asyncua server (one for the module; its model runs on a
manual clock, so what the driver reads can be compared with the model exactly): polling, subscriptions,
Bad statuses, method calls, refused commands, and a server that is down or silent."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import pytest_asyncio

from drivers.errors import BadStatus, CallError, DeviceUnreachable, WriteError
from drivers.opcua.client import OpcUaDriver
from drivers.opcua.config import ReadMode
from drivers.scheduler import BusScheduler
from edge_agent.clock import SystemClock
from edge_agent.config.load import load_config
from edge_agent.poll.build import build_driver, build_pollers
from simulators.traffic.controller import TrafficController
from simulators.traffic.server import TrafficControllerServer
from tests.drivers.conftest import PROFILES, SteppedClock
from tests.fixtures.traffic_sim import expected, link, tlc_device, until, values
from wire.points import Quality, Reading

pytestmark = pytest.mark.asyncio(loop_scope="module")


class Sim:
    def __init__(self, server: TrafficControllerServer, clock: SteppedClock) -> None:
        self.server = server
        self.clock = clock

    @property
    def model(self) -> TrafficController:
        return self.server.model

    async def step(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.server.refresh()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sim() -> AsyncIterator[Sim]:
    clock = SteppedClock()
    model = TrafficController(now=clock)
    clock.advance(10)  # past the start-up: stage 1 runs
    async with TrafficControllerServer(model, port=0, refresh_s=0.05) as server:
        yield Sim(server, clock)


@pytest_asyncio.fixture(loop_scope="module")
async def polled(sim: Sim) -> AsyncIterator[OpcUaDriver]:
    driver = OpcUaDriver("tlc-bus", link(sim.server.endpoint), [tlc_device(read=ReadMode.POLL)])
    yield driver
    await driver.aclose()


@pytest_asyncio.fixture(loop_scope="module")
async def subscribed(sim: Sim) -> AsyncIterator[OpcUaDriver]:
    driver = OpcUaDriver("tlc-bus", link(sim.server.endpoint), [tlc_device()])
    yield driver
    await driver.aclose()


async def test_poll_reads_every_point_in_one_request(sim: Sim, polled: OpcUaDriver) -> None:
    await sim.step(0)
    read = values(await polled.read("tlc"))
    assert read == expected(sim.model.snapshot())
    assert len(read) == 60
    assert read["control_mode"] == "control"
    assert read["sg1_state"] in ("1", "3")
    before = polled.stats.requests
    await sim.step(30)  # into stage 2
    read = values(await polled.read("tlc"))
    assert read == expected(sim.model.snapshot())
    assert polled.stats.requests == before + 1  # 60 nodes, one Read


async def test_subscription_keeps_the_latest_values(sim: Sim, subscribed: OpcUaDriver) -> None:
    await sim.step(0)
    first = values(await subscribed.read("tlc"))  # connects, reads once, subscribes
    assert first == expected(sim.model.snapshot())
    requests = subscribed.stats.requests
    await sim.step(41)

    async def caught_up() -> bool:
        return values(await subscribed.read("tlc")) == expected(sim.model.snapshot())

    await until(caught_up, what="the subscription to deliver the model's new state")
    assert subscribed.stats.requests == requests  # reads of subscribed points send nothing
    assert subscribed.stats.notifications > 0


async def test_a_bad_status_gives_the_point_an_error(
    sim: Sim, subscribed: OpcUaDriver, polled: OpcUaDriver
) -> None:
    await subscribed.read("tlc")
    await sim.server.set_bad("Detectors/D2/Count", "BadSensorFailure")
    try:

        async def failed() -> bool:
            d2 = next(v for v in await subscribed.read("tlc") if v.point == "d2_count")
            return d2.error is not None and "BadSensorFailure" in d2.error

        await until(failed, what="the data change with a Bad status")
        read = {v.point: v for v in await polled.read("tlc")}
        assert read["d2_count"].value is None
        assert "BadSensorFailure" in (read["d2_count"].error or "")
        assert read["d1_count"].error is None  # only that point
    finally:
        await sim.server.clear_bad("Detectors/D2/Count")

    async def recovered() -> bool:
        return all(v.error is None for v in await subscribed.read("tlc"))

    await until(recovered, what="the value to come back")


async def test_an_unknown_node_is_an_error_of_that_point_only(sim: Sim) -> None:
    device = tlc_device(groups=6)  # the simulator has 5 signal groups
    driver = OpcUaDriver("tlc-bus", link(sim.server.endpoint), [device])
    try:
        read = {v.point: v for v in await driver.read("tlc")}
    finally:
        await driver.aclose()
    assert "BadNoMatch" in (read["sg6_state"].error or "")
    assert "Intersection_1/SignalGroups/SG6/State" in (read["sg6_state"].error or "")
    assert read["sg5_state"].error is None


async def test_method_calls_round_trip(sim: Sim, subscribed: OpcUaDriver) -> None:
    await sim.step(0)
    cycle = sim.model.snapshot()
    to_cycle_point = cycle.cycle_time - cycle.cycle_counter  # within the second the counter shows
    applies = await subscribed.call(
        "tlc", "SetPlan", {"Plan": 2, "UseCommanded": True, "SecurityCode": "1234"}
    )
    assert isinstance(applies, float)
    assert applies == pytest.approx(to_cycle_point, abs=1.0)
    assert sim.model.snapshot().plan == 1  # not before the cycle point
    state = await subscribed.call(
        "tlc",
        "RequestPriority",
        {"RequestId": "bus-42", "SignalGroup": 3, "Type": 0, "Level": 5, "Eta": 20, "VehicleType": 0},
    )
    assert state in (1, 2)  # queued or activated
    assert sim.model.request("bus-42").signal_group == 3
    assert await subscribed.call("tlc", "Heartbeat", {}) is None
    await sim.step(applies + 0.5)

    async def switched() -> bool:
        read = values(await subscribed.read("tlc"))
        return (read["plan"], read["plan_source"], read["prio1_request"]) == (2, "forced", "bus-42")

    await until(switched, what="plan 2 from the cycle point on, and the request listed")
    await subscribed.call("tlc", "SetPlan", {"Plan": 1, "UseCommanded": False, "SecurityCode": "1234"})


async def test_a_refused_command_is_a_bad_status(sim: Sim, subscribed: OpcUaDriver) -> None:
    with pytest.raises(BadStatus) as refused:
        await subscribed.call("tlc", "SetPlan", {"Plan": 2, "UseCommanded": True, "SecurityCode": "0000"})
    assert refused.value.status == "BadUserAccessDenied"
    with pytest.raises(BadStatus) as invalid:
        await subscribed.call("tlc", "SetPlan", {"Plan": 99, "UseCommanded": True, "SecurityCode": "1234"})
    assert invalid.value.status == "BadInvalidArgument"
    with pytest.raises(BadStatus) as unknown:
        await subscribed.call("tlc", "Reboot", {})
    assert unknown.value.status == "BadNoMatch"
    with pytest.raises(CallError, match="takes"):
        await subscribed.call("tlc", "SetPlan", {"Plan": 2})
    with pytest.raises(BadStatus):
        await subscribed.write("tlc", "plan", 3)  # the controller's variables are read-only
    assert sim.model.snapshot().plan != 3


async def test_writes_and_calls_the_driver_refuses_before_sending(sim: Sim, subscribed: OpcUaDriver) -> None:
    await subscribed.read("tlc")  # connected
    sent = subscribed.stats.requests
    with pytest.raises(WriteError, match="no point 'nope'") as nope:
        await subscribed.write("tlc", "nope", 1)
    assert (nope.value.device, nope.value.point) == ("tlc", "nope")
    with pytest.raises(WriteError, match="not one of") as label:
        await subscribed.write("tlc", "functional_position", "purple")
    assert (label.value.device, label.value.point) == ("tlc", "functional_position")
    assert isinstance(label.value.__cause__, ValueError)  # the codec's reason, translated here
    with pytest.raises(WriteError, match="no device 'tlc-9'"):
        await subscribed.write("tlc-9", "plan", 1)
    with pytest.raises(CallError, match="an empty method path"):
        await subscribed.call("tlc", "", {})
    with pytest.raises(CallError, match="no device 'tlc-9'"):
        await subscribed.call("tlc-9", "Heartbeat", {})
    assert subscribed.stats.requests == sent  # nothing went to the server
    plan = sim.model.snapshot().plan
    with pytest.raises(CallError, match="argument Plan is a Byte, not 'two'") as typed:
        await subscribed.call("tlc", "SetPlan", {"Plan": "two", "UseCommanded": True, "SecurityCode": "1234"})
    assert (typed.value.device, typed.value.action) == ("tlc", "SetPlan")
    assert sim.model.snapshot().plan == plan


async def test_a_server_that_is_down_is_unreachable_at_once_then_backs_off() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    driver = OpcUaDriver(
        "tlc-bus", link(f"opc.tcp://127.0.0.1:{port}/", connect_timeout_s=10.0), [tlc_device()]
    )
    start = time.monotonic()
    with pytest.raises(DeviceUnreachable) as down:
        await driver.read("tlc")
    assert time.monotonic() - start < 5.0  # refused at once, not after the 10 s connect timeout
    assert down.value.device == "tlc"
    with pytest.raises(DeviceUnreachable, match="next connect try in"):
        await driver.read("tlc")  # within the back-off: no new connection attempt
    assert driver.stats.connect_failures == 1
    await driver.aclose()


async def test_a_silent_server_is_unreachable_within_the_connect_timeout() -> None:
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accept the connection, never answer

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    driver = OpcUaDriver(
        "tlc-bus", link(f"opc.tcp://127.0.0.1:{port}/", timeout_s=0.5, connect_timeout_s=1.0), [tlc_device()]
    )
    try:
        start = time.monotonic()
        with pytest.raises(DeviceUnreachable, match="no answer within"):
            await driver.read("tlc")
        assert time.monotonic() - start < 2.5
    finally:
        await driver.aclose()
        for w in held:
            w.close()
        server.close()
        await server.wait_closed()


class Recorded:
    """Stands in for the buffer: keeps what the poller appends."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []

    async def append(self, readings: Sequence[Reading]) -> None:
        self.readings.extend(readings)


async def test_the_agent_polls_it_through_its_config(sim: Sim, tmp_path: Path) -> None:
    (tmp_path / "agent.yaml").write_text(
        f"""
gateway: cab-1
site: test
profile_paths: [{PROFILES}]
buses:
  - name: tlc-bus
    kind: opcua
    endpoint: {sim.server.endpoint}
    devices:
      - {{name: tlc-1, profile: traffic-controller, params: {{id: 1, signal_groups: 5, detectors: 4}}}}
"""
    )
    (bus,) = load_config(tmp_path / "agent.yaml").buses
    driver = build_driver(bus, BusScheduler(bus.name, bus.link.frame_gap_s))
    buffer = Recorded()
    (poller,) = build_pollers(bus, driver, buffer, SystemClock())
    try:
        await sim.step(0)
        readings = await poller.poll_once()
    finally:
        await driver.aclose()
    assert buffer.readings == readings
    assert {r.point: r.value for r in readings} == {**expected(sim.model.snapshot()), "online": True}
    assert {r.quality for r in readings} == {Quality.GOOD}
