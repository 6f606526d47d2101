"""drivers.modbus.codec: what no server can send, encode's refusals, enums and round trips (hypothesis)."""

from __future__ import annotations

import math
import struct
from typing import Any, Literal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from drivers.base import Value
from drivers.errors import DecodeError
from drivers.modbus.codec import decode, decode_bits, encode
from drivers.modbus.config import WORDS, DataType, ModbusPoint, Order, Table

B, L = Order.BIG, Order.LITTLE


def point(type_: DataType, word: Order = B, byte: Order = B, **kw: Any) -> ModbusPoint:
    table = kw.pop("table", Table.HOLDING)
    return ModbusPoint(name="p", table=table, address=10, type=type_, word_order=word, byte_order=byte, **kw)


# Known register vectors per type and order, scale and offset, "not available" codes and non-finite
# floats are golden cases read through the real driver from a real server (golden/modbus/, run by
# test_modbus_golden.py, which also encodes each value back). Here: what no server can send, the
# refusals of encode, and round trips.


@pytest.mark.parametrize("words", [[], [1, 2], [0x10000]])
def test_wrong_registers_are_an_error(words: list[int]) -> None:
    with pytest.raises(DecodeError):
        decode(point(DataType.UINT16), words)


def test_bits() -> None:
    coil = point(DataType.BOOL, table=Table.COIL)
    assert decode_bits(coil, [True]) is True
    assert decode_bits(coil, [False]) is False
    with pytest.raises(DecodeError):
        decode_bits(coil, [])
    with pytest.raises(ValueError, match="decode_bits"):
        decode(coil, [1])
    with pytest.raises(ValueError, match="decoded with decode"):
        decode_bits(point(DataType.UINT16), [True])
    assert encode(coil, True) == [1]


@pytest.mark.parametrize(
    ("p", "value"),
    [
        (point(DataType.UINT16), 70000),
        (point(DataType.UINT16), -1),
        (point(DataType.INT16), 32768),
        (point(DataType.UINT32), 2**32),
        (point(DataType.FLOAT32), 1e39),
        (point(DataType.FLOAT32), math.nan),
        (point(DataType.INT32), math.inf),
        (point(DataType.UINT16), "12"),
        (point(DataType.UINT16), None),
        (point(DataType.BOOL, bit=3), True),  # one bit of a register: read-modify-write, not here
    ],
)
def test_encode_refuses_what_the_point_cannot_hold(p: ModbusPoint, value: Value) -> None:
    with pytest.raises(ValueError, match="p: "):
        encode(p, value)


# --- round trips --------------------------------------------------------------------------------

ORDERS = st.sampled_from(list(Order))
_RANGES = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[DataType, Value]:
    type_ = draw(st.sampled_from([t for t in DataType if t is not DataType.BOOL]))
    if type_ in _RANGES:
        lo, hi = _RANGES[type_]
        return type_, draw(st.integers(lo, hi))
    width: Literal[32, 64] = 32 if type_ is DataType.FLOAT32 else 64
    return type_, draw(st.floats(width=width, allow_nan=False, allow_infinity=False))


@given(typed_values(), ORDERS, ORDERS)
def test_encode_then_decode_gives_the_value(tv: tuple[DataType, Value], word: Order, byte: Order) -> None:
    type_, value = tv
    p = point(type_, word, byte)
    words = encode(p, value)
    assert len(words) == WORDS[type_]
    assert all(0 <= w <= 0xFFFF for w in words)
    assert decode(p, words) == value


@given(
    st.sampled_from(list(DataType)), ORDERS, ORDERS, st.lists(st.integers(0, 0xFFFF), min_size=4, max_size=4)
)
def test_decode_then_encode_gives_the_registers(
    type_: DataType, word: Order, byte: Order, regs: list[int]
) -> None:
    p = point(type_, word, byte)
    words = regs[: WORDS[type_]]
    if type_ is DataType.BOOL:
        words = [words[0] & 1]  # a register bool reads back as 0 or 1
    try:
        value = decode(p, words)
    except DecodeError:
        assume(False)  # NaN and infinities
        raise
    assert encode(p, value) == words


@given(st.sampled_from(list(DataType)), ORDERS, st.lists(st.integers(0, 0xFFFF), min_size=4, max_size=4))
def test_little_word_order_is_the_reversed_registers(type_: DataType, byte: Order, regs: list[int]) -> None:
    words = regs[: WORDS[type_]]
    try:
        big = decode(point(type_, B, byte), list(reversed(words)))
    except DecodeError:
        assume(False)
        raise
    assert decode(point(type_, L, byte), words) == big


@given(st.lists(st.integers(0, 0xFFFF), min_size=2, max_size=2))
def test_little_byte_order_swaps_inside_each_word(regs: list[int]) -> None:
    swapped = [int.from_bytes(w.to_bytes(2, "big"), "little") for w in regs]
    assert decode(point(DataType.UINT32, B, L), swapped) == decode(point(DataType.UINT32), regs)
    assert decode(point(DataType.UINT32), regs) == struct.unpack(">I", struct.pack(">HH", *regs))[0]


@given(
    st.sampled_from([DataType.UINT16, DataType.INT16, DataType.UINT32, DataType.INT32]),
    st.sampled_from([0.1, 0.01, 0.5, 10.0]),
    st.sampled_from([0.0, -60.0, 273.15]),
    st.integers(0, 0xFFFF),
)
def test_scaled_registers_survive_a_round_trip(
    type_: DataType, scale: float, offset: float, reg: int
) -> None:
    p = point(type_, scale=scale, offset=offset)
    words = [reg] if WORDS[type_] == 1 else [reg, reg ^ 0x5A5A]
    assert encode(p, decode(p, words)) == words


# --- enumerations ---------------------------------------------------------------------------------

STATES = ((0, "unknown"), (1, "up"), (2, "down"))


@pytest.mark.parametrize(
    ("type_", "word", "words", "enum", "expected"),
    [
        (DataType.UINT16, B, [2], STATES, "down"),
        (DataType.UINT16, B, [0], STATES, "unknown"),
        (DataType.INT16, B, [0xFFFF], ((-1, "not_fitted"), (0, "off")), "not_fitted"),
        (DataType.UINT32, B, [0x0001, 0x0000], ((65536, "high"), (1, "low")), "high"),
        (DataType.UINT32, L, [0x0001, 0x0000], ((65536, "high"), (1, "low")), "low"),
        (DataType.INT32, B, [0xFFFF, 0xFFFE], ((-2, "minus_two"),), "minus_two"),
    ],
)
def test_enum_gives_the_label_of_the_code(
    type_: DataType, word: Order, words: list[int], enum: tuple[tuple[int, str], ...], expected: str
) -> None:
    p = point(type_, word, enum=enum)
    assert decode(p, words) == expected
    assert encode(p, expected) == words


def test_a_code_the_enum_does_not_list_is_an_error_not_a_number() -> None:
    with pytest.raises(DecodeError, match=r"^p: code 9 not in enum$") as err:
        decode(point(DataType.UINT16, enum=STATES), [9])
    assert err.value.reason == "code 9 not in enum"


def test_unavailable_is_checked_before_the_enum() -> None:
    p = point(DataType.UINT16, enum=STATES, unavailable=(0xFFFF,))
    with pytest.raises(DecodeError, match="value not available"):
        decode(p, [0xFFFF])


@pytest.mark.parametrize("value", ["sideways", 9, True, 1.0, None])
def test_enum_encode_takes_a_label_or_a_listed_code(value: Value) -> None:
    p = point(DataType.UINT16, enum=STATES)
    assert encode(p, "up") == encode(p, 1) == [1]
    with pytest.raises(ValueError, match="p: "):
        encode(p, value)


@st.composite
def enums(draw: st.DrawFn) -> tuple[DataType, tuple[tuple[int, str], ...]]:
    type_ = draw(st.sampled_from(list(_RANGES)))
    lo, hi = _RANGES[type_]
    codes = draw(st.lists(st.integers(lo, hi), min_size=1, max_size=8, unique=True))
    return type_, tuple(sorted((c, f"label_{i}") for i, c in enumerate(codes)))


@given(enums(), ORDERS, st.data())
def test_enum_decodes_listed_codes_only(
    te: tuple[DataType, tuple[tuple[int, str], ...]], word: Order, data: st.DataObject
) -> None:
    type_, enum = te
    p = point(type_, word, enum=enum)
    lo, hi = _RANGES[type_]
    code = data.draw(st.one_of(st.sampled_from([c for c, _ in enum]), st.integers(lo, hi)))
    words = encode(point(type_, word), code)
    labels = dict(enum)
    if code in labels:
        assert decode(p, words) == labels[code]
        assert encode(p, labels[code]) == words
    else:
        with pytest.raises(DecodeError, match=f"code {code} not in enum"):
            decode(p, words)
