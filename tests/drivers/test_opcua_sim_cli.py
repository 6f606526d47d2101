"""``python -m simulators traffic``: says where it listens, serves the profile's points (also secured, with
a certificate it makes itself), and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

from drivers.opcua.client import OpcUaDriver
from drivers.opcua.config import ReadMode
from simulators.certs import self_signed
from tests.fixtures.traffic_sim import link, tlc_device, values

ROOT = Path(__file__).resolve().parents[2]


async def run_sim(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators",
        "traffic",
        "--port",
        "0",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode()
    return proc, line


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=15)
    assert proc.returncode == 0, err.decode()


async def test_the_simulator_serves_the_profile_until_sigterm() -> None:
    proc, line = await run_sim("--intersection", "3", "--plan", "2")
    try:
        found = re.search(
            r"sim-tlc: intersection 3 on (opc\.tcp://127\.0\.0\.1:\d+/) \(security none\)", line
        )
        assert found, line
        driver = OpcUaDriver("tlc-bus", link(found[1]), [tlc_device(intersection=3, read=ReadMode.POLL)])
        try:
            read = values(await driver.read("tlc"))
        finally:
            await driver.aclose()
        assert read["control_mode"] in ("startup", "control")
        assert read["plan"] == 2
        assert read["cycle_time"] == 90
    finally:
        await stop(proc)


async def test_a_secured_simulator_prints_its_certificate(tmp_path: Path) -> None:
    proc, line = await run_sim("--security", "sign-encrypt")
    try:
        found = re.search(
            r"on (opc\.tcp://\S+) \(security Basic256Sha256 SignAndEncrypt, certificate (\S+)\)", line
        )
        assert found, line
        cert, key = self_signed(tmp_path, "agent", "urn:streetgate:edge-agent")
        security = {
            "policy": "Basic256Sha256",
            "mode": "SignAndEncrypt",
            "certificate": str(cert),
            "private_key": str(key),
            "server_certificate": found[2],
        }
        driver = OpcUaDriver("tlc-bus", link(found[1], security=security), [tlc_device()])
        try:
            assert values(await driver.read("tlc"))["functional_position"] == "normal_control"
        finally:
            await driver.aclose()
    finally:
        await stop(proc)
