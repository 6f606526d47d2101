"""Scaled integers come out at the point's resolution: 2292 × 0.1 is 229.2, never 229.20000000000002."""

from __future__ import annotations

import struct
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.dali import codec as dali
from drivers.dali.config import DaliPoint, Quantity
from drivers.modbus import codec as modbus
from drivers.modbus.config import DataType, ModbusPoint, Table
from drivers.opcua import codec as opcua
from drivers.opcua.config import OpcUaPoint, ValueType
from drivers.opcua.nodes import parse_path
from drivers.scaling import decimals

SCALES = [0.1, 0.01, 0.001, 0.0001, 0.5, 0.25, 2.5, 10.0, 1e-7]
OFFSETS = [0.0, -40.0, 0.5, -273.15, 1000.0]


def exact(raw: int, scale: float, offset: float) -> float:
    """The decimal result, as the nearest float (what a person writes: 229.2)."""
    return float(Decimal(raw) * Decimal(repr(scale)) + Decimal(repr(offset)))


def holding(type_: DataType, scale: float, offset: float = 0.0) -> ModbusPoint:
    return ModbusPoint("p", Table.HOLDING, 0, type_, scale=scale, offset=offset)


@pytest.mark.parametrize(
    ("raw", "scale", "offset", "want"),
    [
        (2292, 0.1, 0.0, "229.2"),  # the supply voltage that went out as 229.20000000000002
        (3, 0.1, 0.0, "0.3"),
        (1234, 0.01, 0.0, "12.34"),
        (7, 0.001, 0.0, "0.007"),
        (2731, 0.1, -273.15, "-0.05"),
        (5, 2.5, 0.0, "12.5"),
        (0, 0.1, 0.0, "0.0"),
    ],
)
def test_table(raw: int, scale: float, offset: float, want: str) -> None:
    got = modbus.decode(holding(DataType.UINT16, scale, offset), [raw])
    assert repr(got) == want
    assert (
        repr(
            opcua.decode(
                OpcUaPoint("p", None, parse_path("P"), ValueType.AUTO, scale=scale, offset=offset), raw
            ).value
        )
        == want
    )


@given(st.integers(-(2**31), 2**31 - 1), st.sampled_from(SCALES), st.sampled_from(OFFSETS))
def test_a_scaled_int32_is_the_decimal_result(raw: int, scale: float, offset: float) -> None:
    words = list(struct.unpack(">HH", struct.pack(">i", raw)))
    assert modbus.decode(holding(DataType.INT32, scale, offset), words) == exact(raw, scale, offset)


def test_a_float_register_is_scaled_but_not_rounded() -> None:
    words = list(struct.unpack(">HH", struct.pack(">f", 1.23456)))
    got = modbus.decode(holding(DataType.FLOAT32, 0.1), words)
    assert isinstance(got, float)
    assert got == pytest.approx(0.123456, rel=1e-6)
    assert round(got, 1) != got


@pytest.mark.parametrize(("x", "n"), [(0.1, 1), (0.25, 2), (10.0, 0), (1.0, 0), (1e-7, 7), (-273.15, 2)])
def test_decimals(x: float, n: int) -> None:
    assert decimals(x) == n


@given(st.integers(0, 0xFFFD))
def test_dali_fixed_scale_values_come_out_at_their_resolution(raw: int) -> None:
    """DALI scales through python-dali's Decimal: already exact, and it stays so (0.1 V steps)."""
    got = dali.decode(DaliPoint("v", Quantity.SUPPLY_VOLTAGE, None), raw.to_bytes(2, "big"))
    assert isinstance(got, float)
    assert got == float(Decimal(raw) / 10)
    assert got == round(got, 1)
