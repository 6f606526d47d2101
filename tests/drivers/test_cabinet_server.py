"""The ``cabinet-contactor`` profile, loaded through the agent's config, read and written by the Modbus
driver against the cabinet simulator (a real Modbus TCP server): the relay output through the output
image, the lighting circuit = output OR the fallback (wired in parallel), the photocell's hysteresis,
the door; the luminaire bank following the circuit."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import pytest

from drivers.modbus.config import ModbusDevice, ModbusTcpLink
from drivers.modbus.tcp import ModbusTcpDriver
from edge_agent.config.load import load_config
from simulators.contactor.fallback import Photocell
from simulators.contactor.server import CabinetServer
from simulators.luminaire.bank import LuminaireBankServer
from tests.drivers.conftest import PROFILES, values

ROOT = Path(__file__).resolve().parents[2]


def cabinet_driver(tmp_path: Path, port: int) -> ModbusTcpDriver:
    path = tmp_path / "agent.yaml"
    path.write_text(
        f"gateway: cab-1\nsite: s\nprofile_paths: [{PROFILES}]\nbuses:\n"
        f"  - {{name: cabinet, kind: modbus_tcp, host: 127.0.0.1, port: {port}, timeout_s: 0.5,\n"
        "     devices: [{name: cab, profile: cabinet-contactor}]}\n"
    )
    (bus,) = load_config(path).buses
    assert isinstance(bus.link, ModbusTcpLink)
    devices = [d for d in bus.devices if isinstance(d, ModbusDevice)]
    return ModbusTcpDriver(bus.name, bus.link, devices)


async def test_the_circuit_is_the_output_or_the_fallback_and_the_lamps_follow_it(tmp_path: Path) -> None:
    cell = Photocell(on_lux=35, off_lux=55, lux=20_000)
    async with (
        LuminaireBankServer(count=2) as lamps,
        CabinetServer(fallback=cell, on_mains=lamps.mains) as cab,
    ):
        drv = cabinet_driver(tmp_path, cab.port)
        try:
            assert [r.describe() for r in drv.plan("cab")] == ["holding 512+1", "discrete 0+3"]
            got = values(await drv.read("cab"))
            assert got == {"output": False, "mains": False, "fallback": False, "door_open": False}
            assert not lamps.luminaire(1).mains
            await drv.write_registers("cab", 0, [1])  # the profile's switch: DO1 on, by day
            assert values(await drv.read("cab"))["output"] is True
            assert lamps.luminaire(1).mains
            assert lamps.luminaire(1).state().level_percent == 100  # the power-on level
            await drv.write_registers("cab", 0, [0])
            cell.lux = 45  # dusk, inside the hysteresis band: still open
            assert values(await drv.read("cab"))["mains"] is False
            cell.lux = 20  # dark: the photocell closes the circuit, the output off
            cab.cabinet.door_open = True
            got = values(await drv.read("cab"))
            assert got == {"output": False, "mains": True, "fallback": True, "door_open": True}
            assert lamps.luminaire(0).mains
            cell.lux = 45  # dawn, inside the band: stays closed
            assert values(await drv.read("cab"))["mains"] is True
            cell.lux = 60
            assert values(await drv.read("cab"))["mains"] is False
            cab.cabinet.supply = False  # the grid is gone: nothing closes the circuit
            await drv.write_registers("cab", 0, [1])
            assert values(await drv.read("cab")) == {
                "output": True,
                "mains": False,
                "fallback": False,
                "door_open": True,
            }
            assert not lamps.luminaire(0).mains
        finally:
            await drv.aclose()


def test_a_photocell_needs_a_hysteresis_band() -> None:
    with pytest.raises(ValueError, match="hysteresis"):
        Photocell(on_lux=50, off_lux=40)


async def test_the_cabinet_runs_as_a_process_with_its_lamps(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators",
        "cabinet",
        "--port",
        "0",
        "--lux",
        "10",  # dark: the photocell closes the circuit
        "--lamps",
        "2",
        "--lamps-port",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=20)).decode()
        found = re.search(
            r"on modbus tcp 127\.0\.0\.1:(\d+), unit 1; 2 luminaires .*:(\d+); circuit live", line
        )
        assert found, line
        drv = cabinet_driver(tmp_path, int(found[1]))
        try:
            got = values(await drv.read("cab"))
            assert (got["mains"], got["fallback"], got["output"]) == (True, True, False)
        finally:
            await drv.aclose()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=10)
    assert proc.returncode == 0, err.decode()
