"""The ``bollard-site`` profile, loaded through the agent's config, read by ModbusTcpDriver from the
bollard simulator running as a real Modbus TCP server (and as a process, ``python -m simulators``)."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers.base import Value
from drivers.modbus.config import DataType, ModbusDevice, ModbusPoint, ModbusTcpLink, Table
from drivers.modbus.tcp import ModbusTcpDriver
from edge_agent.config.load import ResolvedBus, load_config
from edge_agent.config.model import ModbusTcpBus
from simulators.bollard.server import BollardSiteServer
from tests.drivers.conftest import PROFILES, SteppedClock, device, holding, link, values

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ((1, "lower"), (2, "raise"), (3, "hold_down"), (4, "release_hold"), (5, "emergency_lower"))


def agent_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(
        f"""
gateway: cab-0007
site: dijon-centre
profile_paths: [{PROFILES}]
buses:
  - name: access-site-7
    kind: modbus_tcp
    host: 127.0.0.1
    port: {port}
    timeout_s: 0.5
    devices:
      - {{name: site-7, profile: bollard-site, unit: 1, poll_interval_s: 1}}
"""
    )
    return path


def control_device() -> ModbusDevice:
    """The mailbox's writable registers and the sim-control inputs the tests drive."""
    command = ModbusPoint("command", Table.HOLDING, 100, DataType.UINT16, enum=COMMANDS)
    return device(
        "site-7-control",
        [command, holding("hold_s", 101), holding("sequence", 102), holding("loop_1", 60000)],
    )


@pytest.fixture
async def sim(clock: SteppedClock) -> AsyncIterator[BollardSiteServer]:
    async with BollardSiteServer("127.0.0.1", 0, count=2, now=clock) as server:
        yield server


TcpBus = ResolvedBus[ModbusTcpBus, ModbusDevice]


def tcp_bus(config: Path) -> tuple[TcpBus, ModbusTcpLink]:
    (bus,) = load_config(config).buses
    assert isinstance(bus.link, ModbusTcpBus)
    devices = tuple(d for d in bus.devices if isinstance(d, ModbusDevice))
    return ResolvedBus(bus.name, bus.link, devices), bus.link


@pytest.fixture
def bus(sim: BollardSiteServer, tmp_path: Path) -> TcpBus:
    return tcp_bus(agent_config(tmp_path, sim.port))[0]


@pytest.fixture
async def driver(bus: TcpBus) -> AsyncIterator[ModbusTcpDriver]:
    assert isinstance(bus.link, ModbusTcpLink)
    drv = ModbusTcpDriver(bus.name, bus.link, [*bus.devices, control_device()])
    yield drv
    await drv.aclose()


async def send(driver: ModbusTcpDriver, command: str, sequence: int, hold_s: int = 0) -> dict[str, Value]:
    """Arguments first, the command register last (it runs the command), then read the site."""
    await driver.write("site-7-control", "hold_s", hold_s)
    await driver.write("site-7-control", "sequence", sequence)
    await driver.write("site-7-control", "command", command)
    return values(await driver.read("site-7"))


def test_the_profile_loads_through_the_agent_config(bus: TcpBus, driver: ModbusTcpDriver) -> None:
    (site,) = bus.devices
    points = {p.name: p for p in site.points}
    assert len(points) == 27
    assert dict(points["state"].enum)[6] == "emergency_down"
    assert points["cycle_counter"].type is DataType.UINT32
    assert sum(p.table is Table.DISCRETE for p in site.points) == 14
    assert [r.describe() for r in driver.plan("site-7")] == ["holding 103+2", "input 0+13", "discrete 0+14"]


async def test_a_read_gives_enum_labels_and_booleans(driver: ModbusTcpDriver) -> None:
    v = values(await driver.read("site-7"))
    assert (v["state"], v["operating_logic"], v["fault_code"], v["command_result"]) == (
        "up",
        "automatic",
        "none",
        "ok",
    )
    assert v["top_limit"] is True
    assert v["bottom_limit"] is False
    assert v["traffic_light_green"] is False
    assert v["rise_limit_pressure_switch"] is True
    assert (v["cycle_counter"], v["cycles_to_service"], v["last_processed_sequence"]) == (0, 10000, 0)
    assert v["hydraulic_pressure"] == pytest.approx(12.0)
    assert v["oil_temperature"] == pytest.approx(20.0)
    assert v["motor_current"] == 0
    assert driver.last_read["site-7"].requests == 3


async def test_commands_through_the_mailbox(
    sim: BollardSiteServer, driver: ModbusTcpDriver, clock: SteppedClock
) -> None:
    v = await send(driver, "lower", 1)
    assert (v["state"], v["command_result"], v["last_processed_sequence"]) == ("lowering", "ok", 1)
    assert v["flashing_lights"] is True
    clock.advance(3.0)
    await driver.write("site-7-control", "loop_1", 1)  # a vehicle on loop 1
    v = await send(driver, "raise", 2)
    assert (v["state"], v["command_result"], v["last_processed_sequence"]) == (
        "down",
        "refused_loop_occupied",
        2,
    )
    assert (v["loop_1_occupied"], v["bottom_limit"], v["traffic_light_green"]) == (True, True, True)
    assert v["last_lower_time"] == 3000
    v = await send(driver, "emergency_lower", 3)
    assert (v["state"], v["emergency_lowering"]) == ("emergency_down", True)
    v = await send(driver, "raise", 4)
    assert v["command_result"] == "refused_emergency_active"
    assert sim.site.reading().emergency


async def test_a_code_the_enum_does_not_list_is_an_error(sim: BollardSiteServer) -> None:
    narrow = ModbusPoint("state", Table.INPUT, 0, DataType.UINT16, enum=((2, "down"),))
    drv = ModbusTcpDriver("t", link(sim.port), [device("site", [narrow])])
    try:
        (v,) = await drv.read("site")
    finally:
        await drv.aclose()
    assert (v.value, v.error) == (None, "code 1 not in enum")


async def test_coils_are_not_served(sim: BollardSiteServer) -> None:
    coil = ModbusPoint("coil", Table.COIL, 0, DataType.BOOL)
    drv = ModbusTcpDriver("t", link(sim.port), [device("site", [coil])])
    try:
        (v,) = await drv.read("site")
    finally:
        await drv.aclose()
    assert v.error == "modbus exception 1 (illegal function) reading coil 0+1"


async def test_the_simulator_runs_as_a_process(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators",
        "bollards",
        "--port",
        "0",
        "--count",
        "2",
        "--logic",
        "semi-automatic",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=20)).decode()
        found = re.search(r"site with 2 bollard\(s\) \(semi-automatic, fail-down\) .*:(\d+), unit 1", line)
        assert found, line
        bus, tcp = tcp_bus(agent_config(tmp_path, int(found[1])))
        drv = ModbusTcpDriver(bus.name, tcp, bus.devices)
        try:
            v = values(await drv.read("site-7"))
        finally:
            await drv.aclose()
        assert (v["state"], v["operating_logic"]) == ("up", "semi_automatic")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=10)
    assert proc.returncode == 0, err.decode()
