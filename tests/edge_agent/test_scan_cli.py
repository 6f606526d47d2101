"""``edge-agent scan modbus`` against a simulator process and a gateway answering exceptions, and its
argument checks; ``edge-agent scan opcua`` against the traffic controller."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.modbus.scan import parse_units, spans
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
        "--host", "127.0.0.1", "--tcp-port", str(sim_port), "--units", "1", "--register", "5", "-f", "json"
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert [f["unit"] for f in found] == [1]
    assert found[0]["detail"].startswith("holding 5 = ")  # luminaire 0's status register


def test_scan_of_nothing_exits_1_with_the_reason_and_no_library_noise() -> None:
    port = free_port()
    proc = scan("--host", "127.0.0.1", "--tcp-port", str(port), "--units", "1-3", "--timeout", "0.2")
    assert proc.returncode == 1
    assert proc.stderr == f"cannot open 127.0.0.1:{port}: connection refused\n"  # no pymodbus log line


def test_scan_of_a_missing_serial_line_says_why(tmp_path: Path) -> None:
    proc = scan("--port", str(tmp_path / "ttyUSB9"), "--units", "1", "--timeout", "0.2")
    assert proc.returncode == 1
    assert proc.stderr == f"cannot open {tmp_path / 'ttyUSB9'}: no such file or directory\n"


# What the gateway below answers a read of holding 0 for each unit id (None: a value, 7).
GATEWAY_ANSWERS: dict[int, ExcCodes | None] = {
    0: ExcCodes.DEVICE_FAILURE,  # pymodbus serves id 0 for every id it does not know: 8 and 9 here
    1: None,
    2: ExcCodes.ILLEGAL_ADDRESS,  # a unit without that register: there
    3: ExcCodes.DEVICE_FAILURE,  # a gateway's "unknown id" (or a unit in failure): not counted
    4: ExcCodes.GATEWAY_PATH_UNAVIABLE,  # no unit
    5: ExcCodes.GATEWAY_NO_RESPONSE,  # no unit
    6: ExcCodes.DEVICE_BUSY,  # a busy unit: there
    7: ExcCodes.DEVICE_FAILURE,
}


def _gateway_unit(unit: int, answer: ExcCodes | None) -> SimDevice:
    async def action(  # noqa: PLR0917 - pymodbus calls the action with six positional arguments
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        registers[address - start_address] = 7
        return answer

    return SimDevice(id=unit, simdata=[SimData(0, count=4, datatype=DataType.REGISTERS)], action=action)


def _serve_gateway(port: int, stop: asyncio.Event, loop_ready: list[asyncio.AbstractEventLoop]) -> None:
    async def serve() -> None:
        units = [_gateway_unit(u, a) for u, a in GATEWAY_ANSWERS.items()]
        server = ModbusTcpServer(units, address=("127.0.0.1", port))
        await server.serve_forever(background=True)
        loop_ready.append(asyncio.get_running_loop())
        await stop.wait()
        await server.shutdown()  # type: ignore[no-untyped-call]

    asyncio.run(serve())


@pytest.fixture
def exception_gateway() -> Iterator[int]:
    """A real pymodbus server on a thread whose unit ids answer the exceptions of GATEWAY_ANSWERS."""
    import threading

    port = free_port()
    stop = asyncio.Event()
    loops: list[asyncio.AbstractEventLoop] = []
    thread = threading.Thread(target=_serve_gateway, args=(port, stop, loops), daemon=True)
    thread.start()
    try:
        wait_port(port)
        yield port
    finally:
        if loops:
            loops[0].call_soon_threadsafe(stop.set)
        thread.join(10)


def test_scan_counts_units_not_gateway_exceptions(exception_gateway: int) -> None:
    table = scan("--host", "127.0.0.1", "--tcp-port", str(exception_gateway), "--units", "1-9")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[-1] == "3 of 9 unit ids answered: 1-2,6"
    assert "unit ids 3,7-9: exception 4 (device failure), not counted" in table.stdout
    assert table.stderr == ""
    as_json = scan(
        "--host", "127.0.0.1", "--tcp-port", str(exception_gateway), "--units", "1-9", "-f", "json"
    )
    verdicts = {p["unit"]: p["verdict"] for p in json.loads(as_json.stdout)}
    failure = "device failure"
    assert verdicts == {
        1: "answered",
        2: "answered",
        3: failure,
        6: "answered",
        7: failure,
        8: failure,
        9: failure,
    }


def test_scan_of_only_gateway_exceptions_exits_1(exception_gateway: int) -> None:
    proc = scan("--host", "127.0.0.1", "--tcp-port", str(exception_gateway), "--units", "3-5,7")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1] == "0 of 4 unit ids answered"


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


def test_scan_with_host_and_port_points_at_tcp_port() -> None:
    proc = scan("--host", "10.1.2.3", "--port", "5020")
    assert proc.returncode == 2
    assert "--tcp-port" in proc.stderr


@pytest.mark.parametrize("url", ["127.0.0.1:4840", "http://127.0.0.1:4840", "opc.tcp://127.0.0.1"])
def test_scan_opcua_refuses_what_is_not_an_opc_tcp_endpoint(url: str) -> None:
    proc = subprocess.run(
        [str(BIN / "edge-agent"), "scan", "opcua", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        f"{url!r} is not an OPC-UA endpoint: give opc.tcp://host:port, e.g. opc.tcp://10.1.2.3:4840\n"
    )


def test_parse_units() -> None:
    assert parse_units("1-3,7,10-11") == [1, 2, 3, 7, 10, 11]
    assert spans([11, 1, 2, 3, 7, 10]) == "1-3,7,10-11"
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
                "--format",
                "json",
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
    assert proc.stderr == ""  # asyncua's session-timeout warning stays out of the technician's way


def test_scan_opcua_without_server_exits_1() -> None:
    proc = subprocess.run(
        [str(BIN / "edge-agent"), "scan", "opcua", f"opc.tcp://127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.endswith(": connection refused\n"), proc.stderr
