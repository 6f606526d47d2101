"""Modbus golden cases: each folder of ``golden/modbus/`` is one device, read by the real driver from a
real pymodbus server that serves exactly the case's registers.

A case folder holds:

- ``config.yaml``: the device's points, in the profile format (``points:``, and the device's default
  ``word_order`` / ``byte_order``), and optional ``link:`` settings (``max_gap``, ``max_registers``);
- ``registers.yaml``: what the server holds, per table (``holding``, ``input``), as
  ``address: [word, ...]`` blocks; an address in no block is a hole (illegal address);
- ``expected.yaml``: either ``readings:`` (per point, a value, ``{approx: x}`` for a float, or
  ``{error: "..."}``), with the ``requests:`` and ``exceptions:`` the read costs, or ``error:`` (the
  config is refused with that message, before any I/O).

Each value's type is checked too (``1`` is an int, ``1.0`` a float, ``true`` a bool); a point whose
value is expected (a bool aside) must also encode back to the registers it was read from. Add a case
by adding a folder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from drivers.base import PointValue
from drivers.errors import PointError
from drivers.modbus.codec import encode
from drivers.modbus.config import (
    DataType,
    ModbusDevice,
    ModbusPoint,
    ModbusPointSpec,
    ModbusTcpLink,
    Order,
    Table,
    resolve_points,
)
from drivers.modbus.tcp import ModbusTcpDriver
from simulators.modbus.tcp_server import ModbusTcpSim

CASES = Path(__file__).parent / "golden" / "modbus"
NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


class CaseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    word_order: Order = Order.BIG
    byte_order: Order = Order.BIG
    link: dict[str, int] = {}
    points: tuple[ModbusPointSpec, ...]


class Registers(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    holding: dict[int, list[int]] = {}
    input: dict[int, list[int]] = {}


@dataclass(frozen=True)
class Case:
    name: str
    config: CaseConfig
    registers: Registers
    expected: dict[str, Any]

    @classmethod
    def load(cls, name: str) -> Case:
        folder = CASES / name

        def read(file: str) -> Any:
            return yaml.safe_load((folder / file).read_text())

        registers = read("registers.yaml") if (folder / "registers.yaml").exists() else {}
        return cls(
            name,
            CaseConfig.model_validate(read("config.yaml")),
            Registers.model_validate(registers),
            read("expected.yaml"),
        )

    def words(self, point: ModbusPoint) -> list[int]:
        """The registers the server holds for ``point``."""
        table = self.registers.holding if point.table is Table.HOLDING else self.registers.input
        served = {a + i: w for a, block in table.items() for i, w in enumerate(block)}
        return [served[a] for a in range(point.address, point.end)]


class RegisterServer(ModbusTcpSim):
    """A pymodbus server (unit 1) holding exactly the case's registers, nothing in between."""

    def __init__(self, registers: Registers) -> None:
        super().__init__("127.0.0.1", 0)
        self.registers = registers

    def device(self) -> SimDevice:
        def blocks(table: dict[int, list[int]]) -> list[SimData]:
            if not table:  # pymodbus wants every table to hold something: one register no case reads
                return [SimData(65535, values=[0], datatype=SimType.REGISTERS)]
            return [SimData(a, values=words, datatype=SimType.REGISTERS) for a, words in table.items()]

        no_bits = [SimData(0, count=16, values=False, datatype=SimType.BITS)]  # no case reads bits
        return SimDevice(
            id=1, simdata=(no_bits, no_bits, blocks(self.registers.holding), blocks(self.registers.input))
        )


@pytest.fixture(params=NAMES)
def case(request: pytest.FixtureRequest) -> Case:
    return Case.load(request.param)


@pytest.fixture
async def server(case: Case) -> AsyncIterator[RegisterServer]:
    async with RegisterServer(case.registers) as sim:
        yield sim


def test_the_cases_are_there() -> None:
    assert len(NAMES) >= 10, NAMES  # a wrong path would otherwise make the suite below empty


def expect(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"approx"}:
        return pytest.approx(value["approx"])
    return value


async def test_golden_case(case: Case, server: RegisterServer) -> None:
    cfg = case.config
    if "error" in case.expected:
        with pytest.raises(PointError) as refused:
            resolve_points(cfg.points, {}, cfg.word_order, cfg.byte_order)
        assert str(refused.value) == case.expected["error"]
        return
    points = resolve_points(cfg.points, {}, cfg.word_order, cfg.byte_order)
    link = ModbusTcpLink(kind="modbus_tcp", host="127.0.0.1", port=server.port, timeout_s=2.0, **cfg.link)
    driver = ModbusTcpDriver("golden", link, [ModbusDevice("dev", 1, 1.0, points)])
    try:
        read = await driver.read("dev")
    finally:
        await driver.aclose()
    wanted: dict[str, Any] = case.expected["readings"]
    assert [v.point for v in read] == [p.name for p in points]  # every point, in the config's order
    got = {v.point: v for v in read}
    assert sorted(got) == sorted(wanted), "expected.yaml must name every point"
    for p in points:
        want, v = wanted[p.name], got[p.name]
        if isinstance(want, dict) and "error" in want:
            assert v == PointValue(p.name, None, want["error"]), p.name
            continue
        assert v.error is None, (p.name, v.error)
        assert v.value == expect(want), p.name
        exact = want["approx"] if isinstance(want, dict) else want
        assert type(v.value) is type(exact), (p.name, v.value)
        if p.type is not DataType.BOOL:  # a bool may be one bit of a register, or any bit of it
            assert encode(p, exact) == case.words(p), f"{p.name}: the value does not encode back"
    for counter in ("requests", "exceptions"):  # what the read cost, as the driver counted it
        if counter in case.expected:
            assert getattr(driver.stats, counter) == case.expected[counter], counter
