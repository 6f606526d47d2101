"""A node's value and status to a point's value, and back: the type checks, scaling, enum labels, Bad
statuses, and encode as the inverse of decode (property-tested)."""

from __future__ import annotations

import datetime
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.base import Value
from drivers.opcua.codec import Status, decode, encode
from drivers.opcua.config import OpcUaPoint, ValueType
from drivers.opcua.nodes import parse_path

BAD_SENSOR = Status(0x808C0000, "BadSensorFailure")
UNCERTAIN = Status(0x40900000, "UncertainLastUsableValue")


def point(type_: ValueType = ValueType.AUTO, **kw: Any) -> OpcUaPoint:
    return OpcUaPoint("p", None, parse_path("Status/P"), type_, **kw)


@pytest.mark.parametrize(
    ("type_", "raw", "value"),
    [
        (ValueType.AUTO, 3, 3),
        (ValueType.AUTO, 2.5, 2.5),
        (ValueType.AUTO, True, True),
        (ValueType.AUTO, "B", "B"),
        (ValueType.BOOL, 1, True),
        (ValueType.INT, 4.0, 4),
        (ValueType.FLOAT, 7, 7.0),
        (ValueType.STRING, "3", "3"),
        (ValueType.STRING, datetime.datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05"),
    ],
)
def test_values_of_the_asked_kind_pass(type_: ValueType, raw: object, value: Value) -> None:
    got = decode(point(type_), raw)
    assert (got.value, got.error) == (value, None)
    assert type(got.value) is type(value)


@pytest.mark.parametrize(
    ("type_", "raw", "reason"),
    [
        (ValueType.INT, True, "bool True is not int"),
        (ValueType.INT, 2.5, "float 2.5 is not int"),
        (ValueType.BOOL, 2, "int 2 is not bool"),
        (ValueType.FLOAT, "1", "str '1' is not float"),
        (ValueType.AUTO, [1, 2], "an array of 2 values, not a scalar"),
        (ValueType.AUTO, None, "no value (null)"),
        (ValueType.AUTO, math.nan, "not a number (nan)"),
        (ValueType.AUTO, b"\x00", "bytes b'\\x00' is not a scalar"),
    ],
)
def test_values_of_another_kind_are_errors_of_the_point(type_: ValueType, raw: object, reason: str) -> None:
    got = decode(point(type_), raw)
    assert got.value is None
    assert got.error == f"{reason} at Status/P"


def test_scale_offset_and_enum() -> None:
    assert decode(point(ValueType.INT, scale=0.1, offset=-40), 650).value == pytest.approx(25.0)
    assert decode(point(ValueType.INT), 650).value == 650
    modes = point(ValueType.INT, enum=((0, "startup"), (1, "control")))
    assert decode(modes, 1).value == "control"
    assert decode(modes, 7).error == "code 7 is not in the enum (0, 1) at Status/P"


def test_a_bad_status_is_an_error_an_uncertain_one_keeps_the_value() -> None:
    got = decode(point(), 12, BAD_SENSOR)
    assert (got.value, got.error) == (None, "BadSensorFailure (0x808C0000) reading Status/P")
    assert decode(point(), 12, UNCERTAIN).value == 12


def test_encode_refuses_what_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="null"):
        encode(point(), None)
    with pytest.raises(ValueError, match="not one of"):
        encode(point(ValueType.INT, enum=((0, "off"),)), "on")
    with pytest.raises(ValueError, match="whole raw value"):
        encode(point(ValueType.INT, scale=0.5), 0.3)


@given(
    raw=st.integers(min_value=-(2**31), max_value=2**31 - 1),
    scale=st.sampled_from([1.0, 0.5, 0.25, 2.0, 10.0]),
    offset=st.sampled_from([0.0, -40.0, 100.0]),
)
def test_encode_inverts_decode_for_integers(raw: int, scale: float, offset: float) -> None:
    p = point(ValueType.INT, scale=scale, offset=offset)
    decoded = decode(p, raw).value
    assert decoded is not None
    assert encode(p, decoded) == raw


@given(code=st.integers(min_value=-5, max_value=5))
def test_enum_labels_round_trip(code: int) -> None:
    p = point(ValueType.INT, enum=tuple((c, f"label_{c + 5}") for c in range(-5, 6)))
    label = decode(p, code).value
    assert encode(p, label) == code
