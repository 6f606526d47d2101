"""drivers.modbus.client against the luminaire-bank simulator running as a real Modbus TCP server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from drivers.base import ReadStats
from drivers.errors import CallError, ExceptionResponse, UnsupportedAction, WriteError
from drivers.modbus.config import DataType, ModbusPoint, Table
from drivers.modbus.tcp import ModbusTcpDriver
from simulators.luminaire.bank import LuminaireBankServer
from simulators.luminaire.curve import arc_to_percent
from simulators.luminaire.model import (
    BALLAST_FAILURE,
    LAMP_FAILURE,
    LAMP_ON,
    LED_OPEN_CIRCUIT,
    POWER_CYCLE,
    SOURCE_OPEN,
    SOURCE_OVERALL,
    STANDBY_W,
    Fault,
)
from tests.drivers.conftest import Points, SteppedClock, device, flags, holding, link, values

COUNT = 4


def control_points(sa: int) -> list[ModbusPoint]:
    """Writable registers of luminaire ``sa``: the arc setpoint and the sim-control fault register."""
    return [
        holding("setpoint", 100 * sa + 15),
        holding("sim_fault", 60000 + sa),
        holding("status", 100 * sa + 5),
    ]


@pytest.fixture
async def sim(clock: SteppedClock) -> AsyncIterator[LuminaireBankServer]:
    async with LuminaireBankServer("127.0.0.1", 0, COUNT, now=clock) as server:
        yield server


@pytest.fixture
async def driver(sim: LuminaireBankServer, luminaire_points: Points) -> AsyncIterator[ModbusTcpDriver]:
    devices = [device(f"lum-{sa}", luminaire_points(sa)) for sa in range(COUNT)]
    devices += [device(f"ctl-{sa}", control_points(sa)) for sa in range(COUNT)]
    drv = ModbusTcpDriver("cabinet-12-dali", link(sim.port), devices)
    yield drv
    await drv.aclose()


async def test_ten_points_read_with_three_requests(
    sim: LuminaireBankServer, driver: ModbusTcpDriver, clock: SteppedClock
) -> None:
    clock.advance(3600)
    read = await driver.read("lum-2")
    assert [v.point for v in read][:3] == ["status", "level", "led_failure"]  # the profile's order
    v = values(read)
    watts = sim.luminaire(2).nominal_w + STANDBY_W
    assert v["status"] == LAMP_ON | POWER_CYCLE
    assert v["level"] == 100
    assert v["led_failure"] == 0
    assert v["active_energy"] == int(watts)  # an hour at full power, whole Wh
    assert v["active_power"] == pytest.approx(watts)
    assert v["operating_time"] == 3600
    assert v["start_counter"] == 1
    gear = v["gear_temperature"]
    assert isinstance(gear, int)
    assert 35 < gear < 70
    assert v["supply_voltage"] == pytest.approx(230, abs=2)
    assert v["light_source_failure"] == 0
    assert driver.stats.requests == 3
    assert driver.stats.registers_read == 25
    assert driver.last_read["lum-2"] == ReadStats(requests=3, registers=25)
    assert sim.requests == 3  # counted by the server too


async def test_each_device_reads_its_own_luminaire(sim: LuminaireBankServer, driver: ModbusTcpDriver) -> None:
    nominal = [sim.luminaire(sa).nominal_w for sa in range(COUNT)]
    assert len(set(nominal)) > 1  # else this test could not tell them apart
    powers = [values(await driver.read(f"lum-{sa}"))["active_power"] for sa in range(COUNT)]
    assert powers == [pytest.approx(w + STANDBY_W) for w in nominal]


async def test_writing_the_setpoint_changes_level_and_power(
    sim: LuminaireBankServer, driver: ModbusTcpDriver
) -> None:
    await driver.write("ctl-1", "setpoint", 50)
    v = values(await driver.read("lum-1"))
    assert v["level"] == round(arc_to_percent(229))
    assert v["active_power"] == pytest.approx(
        sim.luminaire(1).nominal_w * arc_to_percent(229) / 100 + 0.5, abs=0.06
    )
    assert not flags(v["status"]) & POWER_CYCLE
    assert values(await driver.read("lum-0"))["level"] == 100


async def test_lamp_failure_injected_through_the_sim_control_register(driver: ModbusTcpDriver) -> None:
    await driver.write("ctl-3", "sim_fault", 1)
    v = values(await driver.read("lum-3"))
    assert flags(v["status"]) & LAMP_FAILURE
    assert not flags(v["status"]) & LAMP_ON
    assert v["level"] == 0
    assert v["led_failure"] == LED_OPEN_CIRCUIT
    assert v["light_source_failure"] == SOURCE_OVERALL | SOURCE_OPEN
    assert v["active_power"] == pytest.approx(STANDBY_W)
    await driver.write("ctl-3", "sim_fault", 0)
    v = values(await driver.read("lum-3"))
    assert (v["level"], v["led_failure"]) == (100, 0)


async def test_a_dead_gear_reads_mask_in_its_d4i_values(
    sim: LuminaireBankServer, driver: ModbusTcpDriver
) -> None:
    sim.inject(1, Fault.BALLAST)
    read = {v.point: v for v in await driver.read("lum-1")}
    assert flags(read["status"].value) & BALLAST_FAILURE
    assert read["level"].value == 0
    assert read["active_energy"].error == "value not available (raw 0xFFFFFFFF)"
    assert read["gear_temperature"].error == "value not available (raw 0x7FFF)"
    assert read["supply_voltage"].error == "value not available (raw 0xFFFF)"
    assert all(read[p].value is None for p in ("active_power", "operating_time", "light_source_failure"))
    assert values(await driver.read("lum-0"))["level"] == 100


async def test_refused_writes(driver: ModbusTcpDriver) -> None:
    with pytest.raises(
        ExceptionResponse, match=r"modbus exception 2 \(illegal address\) writing holding 5\+1"
    ) as err:
        await driver.write("ctl-0", "status", 1)
    assert (err.value.code, err.value.device, err.value.address) == (2, "ctl-0", 5)
    with pytest.raises(ExceptionResponse, match="illegal value"):
        await driver.write("ctl-0", "setpoint", 101)
    sent = driver.stats.requests
    with pytest.raises(WriteError, match="does not fit a uint16") as big:
        await driver.write("ctl-0", "setpoint", 70000)
    assert (big.value.device, big.value.point) == ("ctl-0", "setpoint")
    assert isinstance(big.value.__cause__, ValueError)  # the codec's reason, translated here
    with pytest.raises(WriteError, match="no point 'nope'") as nope:
        await driver.write("ctl-0", "nope", 1)
    assert (nope.value.device, nope.value.point) == ("ctl-0", "nope")
    with pytest.raises(WriteError, match="no device 'ctl-9'"):
        await driver.write("ctl-9", "setpoint", 1)
    assert driver.stats.requests == sent  # refused before the bus


async def test_a_read_only_point_and_a_call_are_refused_before_the_bus(sim: LuminaireBankServer) -> None:
    meter = device(
        "meter",
        [
            ModbusPoint("voltage", Table.INPUT, 10, DataType.UINT16),
            ModbusPoint("door", Table.DISCRETE, 3, DataType.BOOL),
        ],
    )
    drv = ModbusTcpDriver("gw", link(sim.port), [meter])
    try:
        for point in ("voltage", "door"):
            with pytest.raises(WriteError, match="read-only") as refused:
                await drv.write("meter", point, 1)
            assert (refused.value.device, refused.value.point) == ("meter", point)
        with pytest.raises(UnsupportedAction, match="no command mailbox") as call:
            await drv.call("meter", "Reset", {})
        assert (call.value.device, call.value.action) == ("meter", "Reset")
        with pytest.raises(CallError, match="no device 'x'"):
            await drv.call("x", "Reset", {})
    finally:
        await drv.aclose()
    assert drv.stats.requests == 0


async def test_the_bus_delay_is_paid_per_request(clock: SteppedClock, luminaire_points: Points) -> None:
    async with LuminaireBankServer(count=1, delay_ms=40, now=clock) as sim:
        drv = ModbusTcpDriver("gw", link(sim.port), [device("lum-0", luminaire_points(0))])
        try:
            await drv.read("lum-0")  # connects
            sent = drv.stats.requests
            start = time.monotonic()
            values(await drv.read("lum-0"))
            elapsed = time.monotonic() - start
            requests = drv.stats.requests - sent
        finally:
            await drv.aclose()
    assert requests == 3  # the plan's three requests, counted, not timed
    assert elapsed >= requests * 0.040  # each paid the delay (a lower bound holds on a busy machine)


async def test_concurrent_reads_on_one_link_do_not_mix(
    sim: LuminaireBankServer, driver: ModbusTcpDriver
) -> None:
    await driver.write("ctl-1", "setpoint", 0)
    reads = await asyncio.gather(*(driver.read(f"lum-{sa % 2}") for sa in range(6)))
    assert [values(r)["level"] for r in reads] == [100, 0] * 3


async def test_the_driver_interface(driver: ModbusTcpDriver) -> None:
    assert driver.name == "cabinet-12-dali"
    assert driver.devices()[:2] == ("lum-0", "lum-1")
    assert len(driver.plan("lum-0")) == 3
    with pytest.raises(ValueError, match="no device 'lum-9'"):
        await driver.read("lum-9")
    with pytest.raises(UnsupportedAction, match="no command mailbox"):
        await driver.call("lum-0", "go_to_scene", {"scene": 1})


def test_a_device_listed_twice_is_refused(luminaire_points: Points) -> None:
    twice = [device("lum-0", luminaire_points(0))] * 2
    with pytest.raises(ValueError, match="listed twice"):
        ModbusTcpDriver("gw", link(502), twice)
