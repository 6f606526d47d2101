"""drivers.modbus.client over Modbus RTU: the luminaire gateways as unit ids on a pseudo-terminal line,
real frames (CRC, silent gap, pacing at the baud rate) between pymodbus's serial client and the
simulator's RTU server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import pytest
import serial

from drivers.base import PointValue
from drivers.errors import DeviceUnreachable, ExceptionResponse
from drivers.modbus.config import DataType, ModbusDevice, ModbusPoint, ModbusRtuLink, Parity, Table
from drivers.modbus.rtu import ModbusRtuDriver
from drivers.scheduler import Priority
from simulators.luminaire.line import LuminaireLine
from simulators.luminaire.model import STANDBY_W
from tests.drivers.conftest import Points, SteppedClock, holding, until, values

UNITS = (1, 2, 3, 4)


def rtu_link(port: str, timeout_s: float = 0.3, **kw: object) -> ModbusRtuLink:
    return ModbusRtuLink.model_validate(
        {"kind": "modbus_rtu", "port": port, "parity": "N", "timeout_s": timeout_s, **kw}
    )


def unit_device(
    name: str, unit: int, points: Sequence[ModbusPoint], timeout_s: float | None = None
) -> ModbusDevice:
    return ModbusDevice(name=name, unit=unit, poll_interval_s=1.0, points=tuple(points), timeout_s=timeout_s)


def twenty_points() -> list[ModbusPoint]:
    """Twenty points of one luminaire gateway: the channel settings and the D4i values of sa 0."""
    channel = ["status", "level", "device_type", "phys_min", "min_level", "max_level", "power_on"]
    channel += ["system_failure", "fade_time", "fade_rate", "setpoint"]
    points = [holding(name, 5 + i) for i, name in enumerate(channel)]
    points.append(holding("led_failure", 80))
    d4i = [("active_energy", 34), ("active_power", 36), ("operating_time", 46), ("start_counter", 48)]
    points += [holding(name, 25000 + offset, DataType.UINT32) for name, offset in d4i]
    points += [holding("gear_temperature", 25050, DataType.INT16), holding("supply_voltage", 25052)]
    points += [holding("light_on_time", 25053, DataType.UINT32), holding("source_temperature", 25056)]
    assert len(points) == 20
    return points


@pytest.fixture
async def line(clock: SteppedClock) -> AsyncIterator[LuminaireLine]:
    async with LuminaireLine(UNITS, count=2, now=clock) as sim:
        yield sim


@pytest.fixture
async def driver(line: LuminaireLine, luminaire_points: Points) -> AsyncIterator[ModbusRtuDriver]:
    devices = [unit_device(f"gw{u}-lum-{sa}", u, luminaire_points(sa)) for u in UNITS for sa in (0, 1)]
    devices.append(unit_device("gw1-ctl-0", 1, [holding("setpoint", 15)]))
    drv = ModbusRtuDriver("rs485-1", rtu_link(line.path), devices)
    yield drv
    await drv.aclose()


async def test_each_unit_answers_for_its_own_gateway(line: LuminaireLine, driver: ModbusRtuDriver) -> None:
    for unit in UNITS:
        v = values(await driver.read(f"gw{unit}-lum-1"))
        assert v["level"] == 100
        assert v["active_power"] == pytest.approx(line.gateway(unit).luminaires[1].nominal_w + STANDBY_W)
    assert [e.unit for e in line.server.events] == [u for u in UNITS for _ in range(3)]  # 3 requests each
    assert all(e.answered is not None and e.exception is None for e in line.server.events)
    assert driver.stats.connects == 1  # one port opening for every unit on the line
    assert (line.server.collisions, line.server.noise_bytes) == (0, 0)


async def test_the_line_is_paced_at_its_baud_rate_with_the_silent_gap(
    line: LuminaireLine, driver: ModbusRtuDriver
) -> None:
    await driver.read("gw2-lum-0")
    first, second, third = line.server.events
    char = 10 / 19200  # 8N1
    # holding 5+2: an 8-byte request and a 9-byte answer, then the 1 ms turnaround
    assert first.answered is not None
    assert first.answered - first.start >= 17 * char + 0.001
    gap = rtu_link(line.path).frame_gap_s
    assert gap == pytest.approx(3.5 * char)
    assert second.start - first.answered >= gap
    assert third.start - (second.answered or 0) >= gap


async def test_a_write_goes_to_its_unit_only(line: LuminaireLine, driver: ModbusRtuDriver) -> None:
    await driver.write("gw1-ctl-0", "setpoint", 0)
    assert values(await driver.read("gw1-lum-0"))["level"] == 0
    assert values(await driver.read("gw2-lum-0"))["level"] == 100
    assert driver.scheduler.stats().by_priority[Priority.COMMAND] == 1
    with pytest.raises(
        ExceptionResponse, match=r"modbus exception 3 \(illegal value\) writing holding 15\+1"
    ):
        await driver.write("gw1-ctl-0", "setpoint", 101)


async def test_a_write_takes_the_next_free_slot_on_the_line(
    line: LuminaireLine, driver: ModbusRtuDriver
) -> None:
    reads = [asyncio.create_task(driver.read(f"gw{u}-lum-{sa}")) for u in UNITS for sa in (0, 1)]
    await until(  # the first read's first request is on the line, the rest wait
        lambda: driver.scheduler.queue_depth == len(reads) - 1, "one read on the line, the others queued"
    )
    await driver.write("gw1-ctl-0", "setpoint", 50)
    await asyncio.gather(*reads)
    functions = [e.function for e in line.server.events]
    assert functions.index(6) == 1  # right after the request that was on the line
    assert len(functions) == 1 + 8 * 3


async def test_an_exception_response_spoils_only_its_request_and_is_not_retried(
    line: LuminaireLine, luminaire_points: Points
) -> None:
    ghost = holding("ghost", 100 * 5 + 5)  # short address 5: not on a gateway with 2 luminaires
    drv = ModbusRtuDriver(
        "rs485-1", rtu_link(line.path), [unit_device("lum", 3, [*luminaire_points(0), ghost])]
    )
    try:
        read = {v.point: v for v in await drv.read("lum")}
    finally:
        await drv.aclose()
    assert read["ghost"] == PointValue(
        "ghost", None, "modbus exception 2 (illegal address) reading holding 505+1"
    )
    assert read["level"] == PointValue("level", 100)
    assert (drv.stats.requests, drv.stats.exceptions) == (4, 1)
    assert len(line.server.events) == 4


async def test_a_unit_that_answers_only_with_exceptions_is_bad_not_unreachable(
    line: LuminaireLine, driver: ModbusRtuDriver
) -> None:
    line.server.exceptions[4] = 6  # device busy
    read = await driver.read("gw4-lum-0")
    assert {v.error for v in read} == {
        "modbus exception 6 (device busy) reading holding 5+2",
        "modbus exception 6 (device busy) reading holding 80+1",
        "modbus exception 6 (device busy) reading holding 25034+22",
    }
    assert len(line.server.events) == 3  # no retries for an answer


async def test_a_silent_unit_is_unreachable_after_its_retry_then_tried_once_per_read(
    line: LuminaireLine, driver: ModbusRtuDriver
) -> None:
    line.server.silent.add(2)
    start = time.monotonic()
    with pytest.raises(
        DeviceUnreachable, match=r"no response within 0.3 s reading holding 5\+2 \(2 attempts\)"
    ):
        await driver.read("gw2-lum-0")
    assert 0.6 <= time.monotonic() - start < 2.0  # two timeouts, not a stall (the attempts: below)
    assert [e.unit for e in line.server.events] == [2, 2]  # the first request and its retry; then it gave up
    assert driver.scheduler.stats().by_priority[Priority.RETRY] == 1
    assert values(await driver.read("gw3-lum-0"))["level"] == 100  # the others on the line are fine
    line.server.events.clear()
    with pytest.raises(DeviceUnreachable, match=r"no response within 0.3 s reading holding 105\+2$"):
        await driver.read("gw2-lum-1")  # the same unit, known silent: one try
    assert [e.unit for e in line.server.events] == [2]
    line.server.silent.clear()
    assert values(await driver.read("gw2-lum-0"))["level"] == 100
    assert driver.stats.timeouts == 3
    assert driver.stats.connects == 1  # a timeout leaves the port open


async def test_a_device_timeout_overrides_the_line_timeout(
    line: LuminaireLine, luminaire_points: Points
) -> None:
    line.server.silent.add(1)
    slow = unit_device("slow", 1, luminaire_points(0), timeout_s=0.1)
    drv = ModbusRtuDriver("rs485-1", rtu_link(line.path, timeout_s=2.0, retries=0), [slow])
    start = time.monotonic()
    try:
        with pytest.raises(DeviceUnreachable, match=r"no response within 0\.1 s"):
            await drv.read("slow")
    finally:
        await drv.aclose()
    assert time.monotonic() - start < 1.5  # its 0.1 s, well short of the line's 2 s


async def test_noise_on_the_line_is_skipped_or_retried(line: LuminaireLine, driver: ModbusRtuDriver) -> None:
    for _ in range(3):  # between requests: dropped with the client's receive buffer
        line.server.inject_noise(bytes([0x02, 0x03, 0xFF, 0x00, 0x01]))
        assert values(await driver.read("gw1-lum-0"))["level"] == 100
    assert driver.stats.timeouts == 0
    for noise in ([0x01, 0x03, 0x04, 0x99], [0xAA], [0x55, 0x01]):
        line.server.noise_before[1] = bytes(noise)  # just before unit 1's next answer
        # pymodbus hunts through it, or drops the garbled frame and the retry gets the values
        assert values(await driver.read("gw1-lum-0"))["level"] == 100
    assert driver.stats.timeouts <= 3
    assert line.server.collisions == 0


async def test_answers_with_a_broken_crc_are_no_answer(line: LuminaireLine, driver: ModbusRtuDriver) -> None:
    line.server.corrupt.add(3)
    with pytest.raises(
        DeviceUnreachable, match=r"no response within 0.3 s reading holding 5\+2 \(2 attempts\)"
    ):
        await driver.read("gw3-lum-0")
    assert [e.answered is not None for e in line.server.events] == [True, True]  # answered, but garbled
    line.server.corrupt.clear()
    assert values(await driver.read("gw3-lum-0"))["level"] == 100


async def test_noise_towards_the_units_is_hunted_through(
    line: LuminaireLine, driver: ModbusRtuDriver
) -> None:
    line.noise_to_server(bytes([0x01, 0x10, 0x00, 0x05, 0x00, 0x02, 0xFA, 0x99]))  # an FC16 with a bad count
    assert values(await driver.read("gw3-lum-1"))["level"] == 100
    assert line.server.noise_bytes >= 8


async def test_twenty_points_cost_three_requests(line: LuminaireLine) -> None:
    drv = ModbusRtuDriver("rs485-1", rtu_link(line.path), [unit_device("gw", 2, twenty_points())])
    try:
        for _ in range(5):
            read = values(await drv.read("gw"))
        plan = [r.describe() for r in drv.plan("gw")]
    finally:
        await drv.aclose()
    assert read["max_level"] == 100
    assert plan == ["holding 5+11", "holding 80+1", "holding 25034+23"]
    assert len(line.server.events) == 5 * 3  # counted on the line: 3 requests per poll, not 20
    assert drv.last_read["gw"].requests == 3


async def test_a_missing_port_is_unreachable_with_the_reason(luminaire_points: Points) -> None:
    drv = ModbusRtuDriver("rs485-1", rtu_link("/dev/ttyNOPE9"), [unit_device("lum", 1, luminaire_points(0))])
    with pytest.raises(DeviceUnreachable, match="cannot open serial port /dev/ttyNOPE9: no such device"):
        await drv.read("lum")
    assert drv.stats.requests == 0
    await drv.aclose()


async def test_a_port_that_vanishes_or_is_taken(luminaire_points: Points) -> None:
    line = LuminaireLine((1,), count=1)
    await line.start()
    drv = ModbusRtuDriver("rs485-1", rtu_link(line.path), [unit_device("lum", 1, luminaire_points(0))])
    try:
        assert values(await drv.read("lum"))["level"] == 100
        await line.stop()  # the USB adapter is unplugged
        await asyncio.sleep(0.05)
        with pytest.raises(DeviceUnreachable, match=f"cannot open serial port {line.path}: no such device"):
            await drv.read("lum")
    finally:
        await drv.aclose()
    async with LuminaireLine((1,), count=1) as other:
        taken = serial.Serial(other.path, exclusive=True)  # another process holds the port
        drv = ModbusRtuDriver("rs485-1", rtu_link(other.path), [unit_device("lum", 1, luminaire_points(0))])
        try:
            with pytest.raises(DeviceUnreachable, match="in use by another process"):
                await drv.read("lum")
        finally:
            taken.close()
            await drv.aclose()


def test_a_broadcast_unit_is_refused(luminaire_points: Points) -> None:
    with pytest.raises(ValueError, match=r"unit 0 is not 1\.\.247"):
        ModbusRtuDriver("rs485-1", rtu_link("/dev/null"), [unit_device("lum", 0, luminaire_points(0))])


@pytest.mark.parametrize(
    ("settings", "gap_ms"),
    [
        ({"baudrate": 9600}, 3.5 * 11 / 9.6),  # 8E1: 11 bits a character
        ({"baudrate": 19200, "parity": "N", "stopbits": 1}, 3.5 * 10 / 19.2),
        ({"baudrate": 38400}, 1.75),  # fixed above 19200 baud
        ({"baudrate": 115200, "inter_frame_gap_s": 0.005}, 5.0),  # configured
    ],
)
def test_the_silent_gap_follows_the_spec(settings: dict[str, object], gap_ms: float) -> None:
    link = ModbusRtuLink.model_validate({"kind": "modbus_rtu", "port": "/dev/ttyUSB0", **settings})
    assert link.frame_gap_s * 1000 == pytest.approx(gap_ms)
    assert link.parity is Parity(str(settings.get("parity", "E")))
    assert Table.HOLDING  # the link carries every table; the plan decides per device
