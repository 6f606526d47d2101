"""``python -m simulators luminaires --serial pty``: says which port it serves, answers its unit ids
(not the silent ones), and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import pytest

from drivers.errors import DeviceUnreachable
from drivers.modbus.config import DataType, ModbusDevice, ModbusPoint, ModbusRtuLink, Table
from drivers.modbus.rtu import ModbusRtuDriver

ROOT = Path(__file__).resolve().parents[2]


async def test_the_rtu_simulator_runs_as_a_process_until_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "simulators", "luminaires", "--serial", "pty"),
        *("--units", "1-3,7", "--count", "3", "--silent", "7", "--baudrate", "38400"),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=20)).decode()
        found = re.search(
            r"4 gateway\(s\) × 3 luminaires .* on modbus rtu (/dev/\S+) 38400 8N1, units 1-3,7", line
        )
        assert found, line
        link = ModbusRtuLink(kind="modbus_rtu", port=found[1], baudrate=38400, parity="N", timeout_s=0.2)
        level = ModbusPoint("level", Table.HOLDING, 206, DataType.UINT16)
        devices = [ModbusDevice(f"gw{u}-lum-2", u, 1.0, (level,)) for u in (1, 3, 7)]
        drv = ModbusRtuDriver("rs485", link, devices)
        try:
            assert [v.value for v in await drv.read("gw1-lum-2")] == [100]
            assert [v.value for v in await drv.read("gw3-lum-2")] == [100]
            with pytest.raises(DeviceUnreachable, match=r"no response within 0\.2 s"):
                await drv.read("gw7-lum-2")
        finally:
            await drv.aclose()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=10)
    assert proc.returncode == 0, err.decode()


async def test_bad_unit_ids_are_a_usage_error() -> None:
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "simulators", "luminaires", "--serial", "pty", "--units", "0-3"),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    assert proc.returncode == 2
    assert b"--units: unit ids must be 1..247" in err
