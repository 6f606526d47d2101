"""ModbusTcpDriver against Modbus servers we did not write: pymodbus's own simulators, which encode every
value themselves from a typed device definition. If our codec and pymodbus disagreed about a type, a
word order or the bit order of coils, these reads would show it.

pymodbus 3.16 offers two simulators (read from its source):

- ``ModbusSimulatorContext``: a JSON device definition (``foreign/pymodbus-device.json``, the format of a
  ``device_list`` entry in the ``setup.json`` of ``pymodbus.server.ModbusSimulatorServer``), served
  through ``ModbusServerContext``. Deprecated, to be removed in pymodbus 4. ``ModbusSimulatorServer``
  adds an aiohttp web console over the same context; aiohttp is not a dependency here. Cell addresses
  are absolute: coils, discrete inputs, input and holding registers follow each other ("shared blocks":
  false), here at 0, 1, 2..9 and 10..29. Its ``int16`` cells are encoded as the high half of a float32
  (-5 is served as 0xC0A0), and it has neither int32/int64 cells nor a word order: the signed 16-bit
  value and the little-word-order values are raw uint16 cells, which a test checks against pymodbus's
  own ``convert_to_registers``.
- ``SimDevice``/``SimData``, the 3.16 simulator: typed blocks (INT16..FLOAT64, BITS), big-endian only.

Both serve the same device: holding registers 14 and 15 are a hole (an illegal address), which a
request spanning them runs into.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, cast

import pytest
from pymodbus.client import ModbusTcpClient
from pymodbus.datastore import ModbusServerContext, ModbusSimulatorContext
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from drivers.base import PointValue
from drivers.modbus.config import DataType, ModbusDevice, ModbusPoint, ModbusTcpLink, Order, Table
from drivers.modbus.tcp import ModbusTcpDriver
from tests.drivers.conftest import device, values

DEVICE_JSON = Path(__file__).parent / "foreign" / "pymodbus-device.json"
_DT = ModbusTcpClient.DATATYPE
I32_LITTLE, F32_LITTLE = -123456, 2.71828
HR, IR, CO, DI = Table.HOLDING, Table.INPUT, Table.COIL, Table.DISCRETE

POINTS = (
    ModbusPoint("hr_u16", HR, 0, DataType.UINT16, scale=0.1, unit="V"),
    ModbusPoint("hr_i16", HR, 1, DataType.INT16),
    ModbusPoint("hr_u32", HR, 2, DataType.UINT32),
    ModbusPoint("hr_f32", HR, 4, DataType.FLOAT32),
    ModbusPoint("hr_f64", HR, 6, DataType.FLOAT64),
    ModbusPoint("hr_i32_le", HR, 10, DataType.INT32, word_order=Order.LITTLE),
    ModbusPoint("hr_f32_le", HR, 12, DataType.FLOAT32, word_order=Order.LITTLE),
    ModbusPoint("hr_after_hole", HR, 16, DataType.UINT16),
    ModbusPoint("ir_u16", IR, 0, DataType.UINT16),
    ModbusPoint("ir_f32", IR, 1, DataType.FLOAT32),
    ModbusPoint("ir_u32", IR, 3, DataType.UINT32),
    *(ModbusPoint(f"coil_{n}", CO, n, DataType.BOOL) for n in (0, 1, 2, 5, 7, 15)),
    *(ModbusPoint(f"input_{n}", DI, n, DataType.BOOL) for n in (0, 1, 15)),
)
EXPECTED: dict[str, Any] = {
    "hr_u16": pytest.approx(123.4),
    "hr_i16": -5,
    "hr_u32": 0x12345678,
    "hr_f32": 3.5,
    "hr_f64": -273.15,
    "hr_i32_le": I32_LITTLE,
    "hr_f32_le": pytest.approx(F32_LITTLE, rel=1e-7),
    "hr_after_hole": 7,
    "ir_u16": 42,
    "ir_f32": 21.5,
    "ir_u32": 4_000_000_000,
    **{f"coil_{n}": n in (0, 2, 5, 7) for n in (0, 1, 2, 5, 7, 15)},  # 0xA5
    **{f"input_{n}": n in (0, 15) for n in (0, 1, 15)},  # 0x8001
}


def little(value: int | float, type_: Any) -> list[int]:
    return ModbusTcpClient.convert_to_registers(value, type_, word_order="little")


def sim_device() -> SimDevice:
    return SimDevice(
        id=1,
        simdata=(
            [SimData(0, values=[n in (0, 2, 5, 7) for n in range(16)], datatype=SimType.BITS)],
            [SimData(0, values=[n in (0, 15) for n in range(16)], datatype=SimType.BITS)],
            [
                SimData(0, values=1234, datatype=SimType.UINT16),
                SimData(1, values=-5, datatype=SimType.INT16),
                SimData(2, values=0x12345678, datatype=SimType.UINT32),
                SimData(4, values=3.5, datatype=SimType.FLOAT32),
                SimData(6, values=-273.15, datatype=SimType.FLOAT64),
                SimData(10, values=little(I32_LITTLE, _DT.INT32), datatype=SimType.REGISTERS),
                SimData(12, values=little(F32_LITTLE, _DT.FLOAT32), datatype=SimType.REGISTERS),
                SimData(16, values=7, datatype=SimType.UINT16),
            ],
            [
                SimData(0, values=42, datatype=SimType.UINT16),
                SimData(1, values=21.5, datatype=SimType.FLOAT32),
                SimData(3, values=4_000_000_000, datatype=SimType.UINT32),
            ],
        ),
    )


def json_context() -> ModbusServerContext:
    definition = json.loads(DEVICE_JSON.read_text())
    return ModbusServerContext(devices={1: ModbusSimulatorContext(definition, None)}, single=False)


@pytest.fixture(params=["json-context", "simdevice"])
async def port(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    context = json_context() if request.param == "json-context" else sim_device()
    server = ModbusTcpServer(context, address=("127.0.0.1", 0))
    await server.serve_forever(background=True)
    try:
        yield cast(asyncio.Server, server.transport).sockets[0].getsockname()[1]
    finally:
        await server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus leaves it unannotated


async def read(port: int, max_gap: int, *points: ModbusPoint) -> tuple[Sequence[PointValue], int]:
    """The values of ``points`` (default: all) and the number of requests the read took."""
    link = ModbusTcpLink(kind="modbus_tcp", host="127.0.0.1", port=port, timeout_s=0.5, max_gap=max_gap)
    drv = ModbusTcpDriver("foreign", link, [device("dev", points or POINTS)])
    try:
        return await drv.read("dev"), len(drv.plan("dev"))
    finally:
        await drv.aclose()


def test_the_raw_cells_are_what_pymodbus_itself_encodes() -> None:
    """The JSON cannot type these values: its raw registers must be pymodbus's own encoding."""
    cells = {c["addr"]: c["value"] for c in json.loads(DEVICE_JSON.read_text())["uint16"]}
    hr = 10  # holding register 0 is cell 10
    assert [cells[hr + 1]] == ModbusTcpClient.convert_to_registers(-5, _DT.INT16)
    assert [cells[hr + 10], cells[hr + 11]] == little(I32_LITTLE, _DT.INT32)
    assert [cells[hr + 12], cells[hr + 13]] == little(F32_LITTLE, _DT.FLOAT32)


async def test_every_type_and_order_reads_as_pymodbus_serves_it(port: int) -> None:
    got, requests = await read(port, 1)  # max_gap 1: the requests step over the hole at holding 14..15
    assert values(got) == EXPECTED
    # holding 0+14 and 16+1; input 0+5; coils 0+3, 5+3 and 15+1; discrete inputs 0+2 and 15+1
    assert requests == 8


async def test_a_request_across_a_hole_is_refused_for_its_points_only(port: int) -> None:
    got, _ = await read(port, 16)  # one holding request 0+17 spans the hole
    errors = {v.point: v.error for v in got if v.error}
    holding = [p.name for p in POINTS if p.table is HR]
    assert errors == dict.fromkeys(holding, "modbus exception 2 (illegal address) reading holding 0+17")
    assert {v.point: v.value for v in got if not v.error}["ir_u32"] == 4_000_000_000


async def test_writes_read_back(port: int) -> None:
    link = ModbusTcpLink(kind="modbus_tcp", host="127.0.0.1", port=port, timeout_s=0.5)
    points = [POINTS[0], ModbusPoint("coil_1", CO, 1, DataType.BOOL)]
    drv = ModbusTcpDriver("foreign", link, [ModbusDevice("dev", 1, 1.0, tuple(points))])
    try:
        await drv.write("dev", "hr_u16", 230.5)
        await drv.write("dev", "coil_1", True)
        assert values(await drv.read("dev")) == {"hr_u16": pytest.approx(230.5), "coil_1": True}
    finally:
        await drv.aclose()


async def test_the_json_device_runs_its_own_actions() -> None:
    """An ``increment`` cell (input register 5) counts the reads: the values are live, not cached."""
    server = ModbusTcpServer(json_context(), address=("127.0.0.1", 0))
    await server.serve_forever(background=True)
    try:
        port = cast(asyncio.Server, server.transport).sockets[0].getsockname()[1]
        counter = ModbusPoint("counter", IR, 5, DataType.UINT16)
        first = values((await read(port, 0, counter))[0])["counter"]
        second = values((await read(port, 0, counter))[0])["counter"]
    finally:
        await server.shutdown()  # type: ignore[no-untyped-call]
    assert isinstance(first, int)
    assert second == first + 1
