"""Pollers against the luminaire simulator (a real Modbus TCP server), on an injected clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers.modbus.config import ModbusDevice, ModbusTcpLink, resolve_points
from drivers.modbus.tcp import ModbusTcpDriver
from drivers.profiles.model import ModbusProfile
from edge_agent.buffer.store import Buffer
from edge_agent.clock import ManualClock
from edge_agent.config.load import read_yaml
from edge_agent.poll.poller import DevicePoller
from simulators.luminaire.bank import LuminaireBankServer
from tests.edge_agent.units import sendable
from wire.points import Quality
from wire.telemetry import decode_batch

PROFILE = Path(__file__).resolve().parents[2] / "configs" / "profiles" / "dali-gw-luminaire.yaml"


def luminaire(sa: int, interval: float = 1.0) -> ModbusDevice:
    profile = ModbusProfile.model_validate(read_yaml(PROFILE))
    points = resolve_points(profile.points, {"c": 0, "sa": sa})
    return ModbusDevice(name=f"lum-{sa:02d}", unit=1, poll_interval_s=interval, points=points)


@pytest.fixture
async def sim() -> AsyncIterator[LuminaireBankServer]:
    async with LuminaireBankServer(count=3) as s:
        yield s


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def buf(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Buffer]:
    b = await Buffer.open(tmp_path / "b.db", gateway="gw", clock=clock, commit_interval_s=0)
    try:
        yield b
    finally:
        await b.close()


async def test_polls_on_interval_with_offset_and_stamps_clock(
    sim: LuminaireBankServer, buf: Buffer, clock: ManualClock
) -> None:
    start_wall = clock.now_ms()
    devices = [luminaire(0), luminaire(1)]
    link = ModbusTcpLink(kind="modbus_tcp", host="127.0.0.1", port=sim.port, timeout_s=1.0)
    driver = ModbusTcpDriver("bus", link, devices)
    pollers = [
        DevicePoller(
            driver=driver,
            device=d.name,
            points=[p.name for p in d.points],
            interval_s=1.0,
            offset_s=0.5 * i,
            buffer=buf,
            clock=clock,
        )
        for i, d in enumerate(devices)
    ]
    tasks = [asyncio.create_task(p.run()) for p in pollers]
    await asyncio.sleep(0.2)  # the first polls (offset 0) run at once, on the real server
    try:
        for _ in range(30):  # 3 s of injected time, in steps that let the real server answer
            await clock.advance(0.1)
            await asyncio.sleep(0.01)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    got = [r for unit in await sendable(buf) for r in decode_batch(unit.payload).readings]
    stamps = {d.name: sorted({r.ts_ms - start_wall for r in got if r.device == d.name}) for d in devices}
    assert stamps["lum-00"][:3] == [0, 1000, 2000]
    assert stamps["lum-01"][:3] == [500, 1500, 2500]
    first = [r for r in got if r.device == "lum-00" and r.ts_ms == start_wall]
    assert {r.point for r in first} == {p.name for p in devices[0].points} | {"online"}
    assert all(r.quality is Quality.GOOD for r in first)
    assert next(r.value for r in first if r.point == "online") is True
    await driver.aclose()


async def test_offline_device_gives_offline_readings_logged_once(
    sim: LuminaireBankServer, buf: Buffer, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    dev = luminaire(2)
    link = ModbusTcpLink(kind="modbus_tcp", host="127.0.0.1", port=sim.port, timeout_s=0.3)
    driver = ModbusTcpDriver("bus", link, [dev])
    poller = DevicePoller(
        driver=driver,
        device=dev.name,
        points=[p.name for p in dev.points],
        interval_s=1.0,
        offset_s=0,
        buffer=buf,
        clock=clock,
    )
    caplog.set_level(logging.INFO, logger="edge_agent.poll.poller")
    assert all(r.quality is Quality.GOOD for r in await poller.poll_once())
    await sim.stop()
    for _ in range(3):
        readings = await poller.poll_once()
        assert {r.quality for r in readings if r.point != "online"} == {Quality.OFFLINE}
        assert all(r.value is None and r.reason for r in readings if r.point != "online")
        online = next(r for r in readings if r.point == "online")
        assert (online.value, online.quality) == (False, Quality.GOOD)  # the one good reading with a reason
        assert {online.reason} == {r.reason for r in readings}  # why it is offline: docs/protocol.md
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert poller.health.online is False
    assert poller.health.failures == 3
    await sim.start()  # same port: the device is back
    sim_port_back = await poller.poll_once()
    assert all(r.quality is Quality.GOOD for r in sim_port_back)
    assert any("answers again" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
    await driver.aclose()


async def test_report_by_exception_in_the_poll_path(
    sim: LuminaireBankServer, buf: Buffer, clock: ManualClock
) -> None:
    from edge_agent.poll.report import ReportFilter, ReportSpec

    dev = luminaire(1)
    link = ModbusTcpLink(kind="modbus_tcp", host="127.0.0.1", port=sim.port, timeout_s=1.0)
    driver = ModbusTcpDriver("bus", link, [dev])
    report = ReportFilter(
        {
            (dev.name, "supply_voltage"): ReportSpec(deadband=50, max_interval_s=10),
            (dev.name, "online"): ReportSpec(max_interval_s=10),
        }
    )
    poller = DevicePoller(
        driver=driver,
        device=dev.name,
        points=[p.name for p in dev.points],
        interval_s=1.0,
        offset_s=0,
        buffer=buf,
        clock=clock,
        report=report,
    )
    try:
        counts = []
        for _ in range(4):
            got = await poller.poll_once()
            counts.append({r.point for r in got})
            await clock.advance(1.0)
        assert "supply_voltage" in counts[0]
        assert all("supply_voltage" not in c and "online" not in c for c in counts[1:])  # within deadband
        assert all("active_power" in c for c in counts)  # points without a rule always go
        assert report.suppressed == 6
        await clock.advance(10.0)
        assert {"supply_voltage", "online"} <= {r.point for r in await poller.poll_once()}  # the heartbeat
        await sim.stop()
        offline = await poller.poll_once()
        assert {"supply_voltage", "online"} <= {r.point for r in offline}  # quality/state change: at once
    finally:
        await driver.aclose()
