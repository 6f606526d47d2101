"""``python -m simulators luminaires``: says where it listens, serves, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

from drivers.modbus.config import DataType, ModbusDevice, ModbusPoint, ModbusTcpLink, Table
from drivers.modbus.tcp import ModbusTcpDriver

ROOT = Path(__file__).resolve().parents[2]


async def test_the_simulator_runs_as_a_process_until_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators",
        "luminaires",
        "--port",
        "0",
        "--count",
        "3",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=20)).decode()
        found = re.search(r"3 luminaires .* on modbus tcp 127\.0\.0\.1:(\d+), unit 1", line)
        assert found, line
        link = ModbusTcpLink(kind="modbus_tcp", host="127.0.0.1", port=int(found[1]))
        level = ModbusPoint("level", Table.HOLDING, 206, DataType.UINT16)
        drv = ModbusTcpDriver("gw", link, [ModbusDevice("lum-2", 1, 1.0, (level,))])
        try:
            assert [v.value for v in await drv.read("lum-2")] == [100]
        finally:
            await drv.aclose()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=10)
    assert proc.returncode == 0, err.decode()


async def test_too_many_luminaires_is_a_usage_error() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators",
        "luminaires",
        "--count",
        "65",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    assert proc.returncode == 2
    assert b"--count: must be 1..64" in err
