"""drivers.modbus.codec: known register vectors per type and order, errors, and round trips (hypothesis)."""

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


KNOWN = [
    # (type, word order, byte order, registers as on the wire, value)
    (DataType.UINT16, B, B, [0x1234], 0x1234),
    (DataType.UINT16, B, L, [0x3412], 0x1234),
    (DataType.INT16, B, B, [0xFFFE], -2),
    (DataType.INT16, B, B, [0x8000], -32768),
    (DataType.INT32, B, B, [0xFFFF, 0xFFFE], -2),
    (DataType.INT32, L, B, [0xFFFE, 0xFFFF], -2),
    (DataType.UINT32, B, B, [0x0001, 0x0000], 65536),
    (DataType.UINT32, L, B, [0x0000, 0x0001], 65536),
    (DataType.UINT32, B, L, [0x0100, 0x0000], 65536),
    (DataType.UINT32, L, L, [0x0000, 0x0100], 65536),
    (DataType.UINT32, B, B, [0x1234, 0x5678], 0x12345678),
    (DataType.UINT32, B, L, [0x3412, 0x7856], 0x12345678),
    (DataType.UINT32, L, L, [0x7856, 0x3412], 0x12345678),
    (DataType.FLOAT32, B, B, [0x3F80, 0x0000], 1.0),
    (DataType.FLOAT32, L, B, [0x0000, 0x3F80], 1.0),
    (DataType.FLOAT32, B, L, [0x803F, 0x0000], 1.0),
    (DataType.FLOAT32, B, B, [0xC120, 0x0000], -10.0),
    (DataType.INT64, B, B, [0xFFFF] * 4, -1),
    (DataType.UINT64, B, B, [0, 0, 0, 1], 1),
    (DataType.UINT64, L, B, [1, 0, 0, 0], 1),
    (DataType.UINT64, B, B, [0x0102, 0x0304, 0x0506, 0x0708], 0x0102030405060708),
    (DataType.UINT64, L, L, [0x0807, 0x0605, 0x0403, 0x0201], 0x0102030405060708),
    (DataType.FLOAT64, B, B, [0x4009, 0x21FB, 0x5444, 0x2D18], math.pi),
    (DataType.FLOAT64, L, B, [0x2D18, 0x5444, 0x21FB, 0x4009], math.pi),
    (DataType.BOOL, B, B, [0x0000], False),
    (DataType.BOOL, B, B, [0x0001], True),
]


@pytest.mark.parametrize(("type_", "word", "byte", "words", "expected"), KNOWN)
def test_known_registers_decode(
    type_: DataType, word: Order, byte: Order, words: list[int], expected: Value
) -> None:
    value = decode(point(type_, word, byte), words)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(("type_", "word", "byte", "words", "expected"), KNOWN)
def test_known_values_encode(
    type_: DataType, word: Order, byte: Order, words: list[int], expected: Value
) -> None:
    assert encode(point(type_, word, byte), expected) == words


@pytest.mark.parametrize(("bit", "expected"), [(0, True), (1, False), (2, True), (15, True), (14, False)])
def test_bool_is_one_bit_of_the_register(bit: int, expected: bool) -> None:
    assert decode(point(DataType.BOOL, bit=bit), [0b1000_0000_0000_0101]) is expected


def test_bool_without_bit_is_any_bit_set() -> None:
    assert decode(point(DataType.BOOL), [0x0100]) is True


def test_scale_and_offset_give_a_float() -> None:
    assert decode(point(DataType.UINT16, scale=0.1), [2305]) == pytest.approx(230.5)
    assert decode(point(DataType.INT16, offset=-60.0), [100]) == pytest.approx(40.0)
    assert decode(point(DataType.UINT32, scale=0.1), [0, 905]) == pytest.approx(90.5)
    assert isinstance(decode(point(DataType.UINT16, scale=2.0), [3]), float)
    assert encode(point(DataType.UINT16, scale=0.1), 230.5) == [2305]
    assert encode(point(DataType.INT16, offset=-60.0), 40.0) == [100]


def test_integer_without_scaling_stays_int() -> None:
    value = decode(point(DataType.UINT32), [0, 7])
    assert value == 7
    assert type(value) is int


@pytest.mark.parametrize(
    ("type_", "words", "unavailable", "raw"),
    [
        (DataType.UINT32, [0xFFFF, 0xFFFF], (4294967295,), "0xFFFFFFFF"),
        (DataType.UINT16, [0xFFFE], (65534, 65535), "0xFFFE"),
        (DataType.INT16, [0x7FFF], (32767,), "0x7FFF"),
        (DataType.INT16, [0xFFFF], (-1,), "0xFFFF"),  # a signed type may list the signed value
        (DataType.UINT64, [0xFFFF] * 4, (2**64 - 1,), "0xFFFFFFFFFFFFFFFF"),
    ],
)
def test_unavailable_raw_value_is_an_error(
    type_: DataType, words: list[int], unavailable: tuple[int, ...], raw: str
) -> None:
    with pytest.raises(DecodeError, match=f"value not available \\(raw {raw}\\)") as err:
        decode(point(type_, unavailable=unavailable, scale=0.1), words)
    assert err.value.point == "p"


def test_unavailable_matches_the_raw_value_not_the_scaled_one() -> None:
    p = point(DataType.UINT16, unavailable=(65535,), scale=0.1)
    assert decode(p, [65534]) == pytest.approx(6553.4)
    with pytest.raises(DecodeError):
        decode(p, [65535])


@pytest.mark.parametrize(
    ("type_", "words"),
    [
        (DataType.FLOAT32, [0x7FC0, 0x0000]),  # NaN
        (DataType.FLOAT32, [0x7F80, 0x0000]),  # +inf
        (DataType.FLOAT32, [0xFF80, 0x0000]),  # -inf
        (DataType.FLOAT64, [0x7FF8, 0, 0, 0]),  # NaN
    ],
)
def test_non_finite_float_is_an_error(type_: DataType, words: list[int]) -> None:
    with pytest.raises(DecodeError, match="not a finite number"):
        decode(point(type_), words)


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
