"""Fixtures of the driver tests: a clock the test steps, the luminaire profile resolved for a device, and
the small builders the Modbus client tests share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import yaml

from drivers.base import PointValue, Value
from drivers.modbus.config import DataType, ModbusDevice, ModbusPoint, ModbusTcpLink, Table, resolve_points
from drivers.profiles.model import ModbusProfile

PROFILES = Path(__file__).resolve().parents[2] / "configs" / "profiles"
Points = Callable[[int], tuple[ModbusPoint, ...]]


class SteppedClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()


def load_profile(name: str) -> ModbusProfile:
    data = yaml.safe_load((PROFILES / f"{name}.yaml").read_text())
    return ModbusProfile.model_validate(data)


@pytest.fixture
def luminaire_points() -> Points:
    """The points of ``dali-gw-luminaire`` for short address ``sa`` on channel 0."""
    profile = load_profile("dali-gw-luminaire")

    def points(sa: int) -> tuple[ModbusPoint, ...]:
        return resolve_points(profile.points, {"c": 0, "sa": sa}, profile.word_order, profile.byte_order)

    return points


def link(port: int, timeout_s: float = 0.5) -> ModbusTcpLink:
    return ModbusTcpLink(kind="modbus_tcp", host="127.0.0.1", port=port, timeout_s=timeout_s)


def holding(
    name: str, address: int, type_: DataType = DataType.UINT16, unavailable: tuple[int, ...] = ()
) -> ModbusPoint:
    return ModbusPoint(name, Table.HOLDING, address, type_, unavailable=unavailable)


def device(name: str, points: Sequence[ModbusPoint]) -> ModbusDevice:
    return ModbusDevice(name=name, unit=1, poll_interval_s=1.0, points=tuple(points))


async def until(cond: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Wait for ``cond``, looking at every turn of the loop; fail after ``timeout`` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0)


def flags(value: Value) -> int:
    assert isinstance(value, int)
    return value


def values(read: Sequence[PointValue]) -> dict[str, Value]:
    errors = {v.point: v.error for v in read if v.error is not None}
    assert not errors
    return {v.point: v.value for v in read}
