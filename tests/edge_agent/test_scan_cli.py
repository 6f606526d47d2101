"""``edge-agent scan modbus`` against a simulator process, and its argument checks."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.modbus.scan import parse_units
from harness.broker import free_port
from harness.stack import BIN, Proc, wait_port


@pytest.fixture
def sim_port(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    sim = Proc(
        "sim",
        [str(BIN / "python"), "-m", "simulators", "luminaires", "--port", str(port), "--count", "2"],
        tmp_path / "sim.log",
    ).start()
    try:
        wait_port(port)
        yield port
    finally:
        sim.stop()


def scan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "edge-agent"), "scan", "modbus", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_scan_finds_the_gateway_unit(sim_port: int) -> None:
    proc = scan(
        "--host", "127.0.0.1", "--tcp-port", str(sim_port), "--units", "1", "--register", "5", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert [f["unit"] for f in found] == [1]
    assert found[0]["detail"].startswith("holding 5 = ")  # luminaire 0's status register


def test_scan_of_nothing_exits_1() -> None:
    proc = scan("--host", "127.0.0.1", "--tcp-port", str(free_port()), "--units", "1-3", "--timeout", "0.2")
    assert proc.returncode == 1
    assert "cannot open" in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--units", "1-3"),  # neither --host nor --port
        ("--host", "h", "--port", "/dev/null"),  # both
        ("--host", "127.0.0.1", "--units", "9-2"),
        ("--port", "/dev/null", "--parity", "X"),
    ],
)
def test_scan_bad_arguments_exit_2(args: tuple[str, ...]) -> None:
    assert scan(*args).returncode == 2


def test_parse_units() -> None:
    assert parse_units("1-3,7,10-11") == [1, 2, 3, 7, 10, 11]
    with pytest.raises(ValueError, match=r"0\.\.247"):
        parse_units("240-250")
    with pytest.raises(ValueError, match="bad unit range"):
        parse_units("a-b")


def test_scan_opcua_browses_the_traffic_controller(tmp_path: Path) -> None:
    port = free_port()
    sim = Proc(
        "tlc",
        [str(BIN / "python"), "-m", "simulators", "traffic", "--port", str(port)],
        tmp_path / "tlc.log",
    ).start()
    try:
        wait_port(port, timeout=30)
        proc = subprocess.run(
            [
                str(BIN / "edge-agent"),
                "scan",
                "opcua",
                f"opc.tcp://127.0.0.1:{port}",
                "--depth",
                "3",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    finally:
        sim.stop()
    assert proc.returncode == 0, proc.stderr
    nodes = {n["path"]: n for n in json.loads(proc.stdout)}
    stage = next(p for p in nodes if p.endswith(":Stage"))
    assert "Intersection_1" in stage
    assert nodes[stage]["class"] == "Variable"
    assert nodes[stage]["value"] is not None


def test_scan_opcua_without_server_exits_1() -> None:
    proc = subprocess.run(
        [str(BIN / "edge-agent"), "scan", "opcua", f"opc.tcp://127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "cannot connect" in proc.stderr
