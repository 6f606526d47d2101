"""Faults on a bus, through the runtime's pollers in real time: noise on the serial line, a unit that
answers only with exception responses, answers with a broken CRC, and a TCP server that accepts and
never answers. Each gives a clear logged error and BAD or OFFLINE readings; no poller crashes or
stalls (every slot of its schedule is either polled or, while backing off, counted as skipped)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Iterable

import pytest

from drivers.modbus.config import ModbusDevice
from drivers.scheduler import BusScheduler
from edge_agent.clock import SystemClock
from edge_agent.config.model import ModbusRtuBus, ModbusTcpBus
from edge_agent.config.resolved import Bus, ResolvedBus
from edge_agent.poll.build import build_driver, build_pollers
from edge_agent.poll.poller import DevicePoller
from simulators.luminaire.line import LuminaireLine
from tests.drivers.conftest import holding
from wire.points import Quality, Reading

INTERVAL_S = 0.25
POINTS = (holding("status", 5), holding("level", 6))


class Recorder:
    """Stands in for the buffer: keeps every reading the pollers commit."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []

    async def append(self, readings: Iterable[Reading]) -> None:
        self.readings.extend(readings)


def resolved(kind: str, where: dict[str, object], units: Iterable[int], timeout_s: float) -> Bus:
    units = list(units)
    spec = {
        "name": "bus-1",
        "kind": kind,
        "timeout_s": timeout_s,
        **where,
        "devices": [{"name": f"gw{u}", "unit": u, "points": [{"name": "x", "register": 0}]} for u in units],
    }
    config = ModbusRtuBus.model_validate(spec) if kind == "modbus_rtu" else ModbusTcpBus.model_validate(spec)
    return ResolvedBus("bus-1", config, tuple(ModbusDevice(f"gw{u}", u, INTERVAL_S, POINTS) for u in units))


async def run_pollers(
    bus: Bus, seconds: float, during: asyncio.Task[None] | None = None
) -> tuple[list[DevicePoller], Recorder]:
    recorder = Recorder()
    driver = build_driver(bus, BusScheduler(bus.name, bus.link.frame_gap_s))
    pollers = build_pollers(bus, driver, recorder, SystemClock())
    tasks = [asyncio.create_task(p.run()) for p in pollers]
    try:
        await asyncio.sleep(seconds)
        assert not any(t.done() for t in tasks), [t.exception() for t in tasks if t.done()]
    finally:
        for t in (*tasks, *([during] if during else [])):
            t.cancel()
        await asyncio.gather(*tasks, *([during] if during else []), return_exceptions=True)
        await driver.aclose()
    for p in pollers:  # the schedule was kept: each slot polled or skipped, none missed
        slots = p.health.polls + p.health.skipped
        assert seconds / INTERVAL_S - 2 <= slots <= seconds / INTERVAL_S + 1, (p.device, p.health)
        assert p.health.overruns == 0, (p.device, p.health)
    return pollers, recorder


@pytest.fixture
async def line() -> AsyncIterator[LuminaireLine]:
    async with LuminaireLine(range(1, 5), count=1, baudrate=38400, parity="N") as sim:
        yield sim


async def test_noise_on_the_serial_line(line: LuminaireLine, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(7)

    async def disturb() -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        while True:
            # A storm from 1.0 to 1.6 s (noise every millisecond, both ways: retries cannot get through,
            # so at least one poll is lost however the machine's load spaces the polls); scattered noise
            # before and after it (hunting and retries get through).
            storm = 1.0 <= loop.time() - t0 < 1.6
            await asyncio.sleep(0.001 if storm else rng.uniform(0.001, 0.01))
            noise = rng.randbytes(rng.randint(1, 24))
            if storm or rng.random() < 0.5:
                line.server.inject_noise(noise)  # towards the client
            if storm or rng.random() >= 0.5:
                line.noise_to_server(noise)  # towards the units

    caplog.set_level(logging.INFO, logger="edge_agent.poll.poller")
    bus = resolved("modbus_rtu", {"port": line.path, "baudrate": 38400, "parity": "N"}, range(1, 5), 0.05)
    _pollers, recorder = await run_pollers(bus, 3.0, asyncio.create_task(disturb()))
    qualities = [r.quality for r in recorder.readings if r.point != "online"]
    good = qualities.count(Quality.GOOD)
    assert good >= len(qualities) // 2, qualities  # most polls get through, by hunting or by a retry
    assert all(r.reason for r in recorder.readings if r.quality is not Quality.GOOD)
    assert line.server.noise_bytes > 0
    failing = {r.device for r in recorder.readings if r.point == "online" and r.value is False}
    logged = {r.getMessage().split()[1] for r in caplog.records if r.levelno == logging.ERROR}
    assert failing, "the noise cost no poll: the test saw nothing to log"
    assert failing <= logged  # a device that lost a poll to the noise was named at ERROR
    print(f"noise: {good} of {len(qualities)} point readings good, offline devices {sorted(failing)}")


async def test_a_unit_answering_with_exceptions_and_one_with_broken_frames(
    line: LuminaireLine, caplog: pytest.LogCaptureFixture
) -> None:
    line.server.exceptions[2] = 4  # device failure
    line.server.corrupt.add(3)
    caplog.set_level(logging.INFO, logger="edge_agent.poll.poller")
    bus = resolved("modbus_rtu", {"port": line.path, "baudrate": 38400, "parity": "N"}, range(1, 5), 0.05)
    pollers, recorder = await run_pollers(bus, 2.0)
    by_device = {p.device: p for p in pollers}

    busy = [r for r in recorder.readings if r.device == "gw2"]
    assert {(r.point, r.quality) for r in busy} == {
        ("status", Quality.BAD),
        ("level", Quality.BAD),
        ("online", Quality.GOOD),
    }
    assert {r.reason for r in busy if r.point != "online"} == {
        "modbus exception 4 (device failure) reading holding 5+2"
    }
    assert all(r.value is True for r in busy if r.point == "online")  # it answers: online, polled always
    assert by_device["gw2"].health.skipped == 0

    garbled = [r for r in recorder.readings if r.device == "gw3" and r.point == "level"]
    assert {r.quality for r in garbled} == {Quality.OFFLINE}
    assert garbled[0].reason == "no response within 0.05 s reading holding 5+2 (2 attempts)"
    assert by_device["gw3"].health.skipped > 0  # backing off: 1 s (5 % of the line), then 2 s

    for healthy in ("gw1", "gw4"):
        assert by_device[healthy].health.polls >= 2.0 / INTERVAL_S - 1
        assert all(r.quality is Quality.GOOD for r in recorder.readings if r.device == healthy)
    errors = sorted(r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert errors == [
        "device gw2 on bus-1: 2 of 2 points unusable: status: "
        "modbus exception 4 (device failure) reading holding 5+2",
        "device gw3 on bus-1 is not answering: no response within 0.05 s reading holding 5+2 (2 attempts); "
        "next try in 1 s",
    ]


async def test_a_tcp_server_that_accepts_and_never_answers(caplog: pytest.LogCaptureFixture) -> None:
    peers: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer)
        await reader.read()  # until the client hangs up; never a byte back

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    caplog.set_level(logging.INFO, logger="edge_agent.poll.poller")
    bus = resolved("modbus_tcp", {"host": "127.0.0.1", "port": port}, (1, 2), 0.1)
    start = time.monotonic()
    try:
        pollers, recorder = await run_pollers(bus, 2.5)
    finally:
        server.close()
        for w in peers:
            w.close()
        await server.wait_closed()
    assert time.monotonic() - start < 3.5
    for p in pollers:
        assert p.health.online is False
        assert p.health.skipped >= 2.5 / INTERVAL_S - 4  # tried at 0 and after 2 s; skipped otherwise
    offline = [r for r in recorder.readings if r.point == "level"]
    assert {r.quality for r in offline} == {Quality.OFFLINE}
    assert {r.reason for r in offline} == {"no response within 0.1 s reading holding 5+2"}
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert sorted(errors) == [
        f"device gw{u} on bus-1 is not answering: "
        "no response within 0.1 s reading holding 5+2; next try in 2 s"
        for u in (1, 2)
    ]
