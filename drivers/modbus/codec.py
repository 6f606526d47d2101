"""Registers to values and back, as pure functions: no I/O, no state.

``decode(point, words)`` turns the 16-bit words a request returned for one point into its value:
reorder the words (``word_order``) and the two bytes inside each word (``byte_order``) into one
big-endian byte string, unpack it by the point's type (one table below), refuse raw values the point
declares ``unavailable`` (DALI MASK/TMASK) and non-finite floats, then give an ``enum`` point the label
of its code (a code the enum does not list is an error) or apply ``value*scale + offset`` (for an
integer type rounded to the decimal places of scale and offset: :mod:`drivers.scaling`).
``encode(point, value)`` is the inverse, for writes (an enum point takes a label or a listed code).
``decode_bits`` covers coils and discrete inputs.

A value that cannot be decoded raises :class:`drivers.errors.DecodeError` (quality BAD for that point);
a value that cannot be encoded raises ``ValueError`` (the caller asked for something the point cannot
hold).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Literal

from drivers.base import Value
from drivers.errors import DecodeError
from drivers.modbus.config import DataType, ModbusPoint, Order, Table
from drivers.scaling import scale_int

# data type -> struct format of the big-endian byte string (the word count is WORDS in config)
_FORMATS: dict[DataType, str] = {
    DataType.INT16: ">h",
    DataType.UINT16: ">H",
    DataType.INT32: ">i",
    DataType.UINT32: ">I",
    DataType.FLOAT32: ">f",
    DataType.INT64: ">q",
    DataType.UINT64: ">Q",
    DataType.FLOAT64: ">d",
}
_FLOATS = frozenset({DataType.FLOAT32, DataType.FLOAT64})
_SIGNED = frozenset({DataType.INT16, DataType.INT32, DataType.INT64})


def decode(point: ModbusPoint, words: Sequence[int]) -> Value:
    """The value of ``point`` from its registers, in wire order (``len(words) == point.words``)."""
    if point.table in (Table.COIL, Table.DISCRETE):
        raise ValueError(f"{point.name}: a {point.table.value} point is decoded with decode_bits")
    if len(words) != point.words:
        raise DecodeError(f"expected {point.words} registers, got {len(words)}", point=point.name)
    if any(not 0 <= w <= 0xFFFF for w in words):
        raise DecodeError(f"register value out of 0..65535: {list(words)}", point=point.name)
    data = _to_bytes(point, words)
    raw = int.from_bytes(data, "big")
    if point.type is DataType.BOOL:
        _check_available(point, raw, raw, len(data))
        return bool(raw >> point.bit & 1) if point.bit is not None else raw != 0
    number: int | float = struct.unpack(_FORMATS[point.type], data)[0]
    _check_available(point, raw, number, len(data))
    if point.type in _FLOATS and not math.isfinite(number):
        raise DecodeError(f"not a finite number: {number} (raw 0x{raw:0{2 * len(data)}X})", point=point.name)
    if point.enum:
        return _label(point, number)
    if point.scale == 1 and point.offset == 0:
        return number  # int for the integer types, float for the float ones (-0.0 kept)
    if isinstance(number, int):
        return scale_int(number, point.scale, point.offset)  # 2292 × 0.1 is 229.2, not 229.20000000000002
    return number * point.scale + point.offset


def decode_bits(point: ModbusPoint, bits: Sequence[bool]) -> bool:
    """The value of a coil or discrete-input point from the one bit read for it."""
    if point.table not in (Table.COIL, Table.DISCRETE):
        raise ValueError(f"{point.name}: a {point.table.value} point is decoded with decode")
    if len(bits) != 1:
        raise DecodeError(f"expected 1 bit, got {len(bits)}", point=point.name)
    return bool(bits[0])


def encode(point: ModbusPoint, value: Value) -> list[int]:
    """The registers (wire order) that make ``point`` read back as ``value``.

    Integer types round ``(value - offset) / scale`` to the nearest integer and refuse values out of the
    type's range; a bit inside a register cannot be written alone (that needs a read-modify-write).
    """
    if point.enum and value is not None:
        value = _code(point, value)
    if isinstance(value, str) or value is None:
        raise ValueError(f"{point.name}: cannot write {value!r} to a {point.type.value} point")
    if point.table in (Table.COIL, Table.DISCRETE) or point.type is DataType.BOOL:
        if point.bit is not None:
            raise ValueError(f"{point.name}: bit {point.bit} of a register needs a read-modify-write")
        return [1 if value else 0]
    unscaled = point.scale == 1 and point.offset == 0
    if unscaled and isinstance(value, int) and point.type not in _FLOATS:
        raw: float = value  # exact: 64-bit integers do not survive a float
    else:
        raw = float(value) if unscaled else (float(value) - point.offset) / point.scale
        if not math.isfinite(raw):
            raise ValueError(f"{point.name}: {value!r} is not a finite number")
    try:
        data = struct.pack(_FORMATS[point.type], raw if point.type in _FLOATS else round(raw))
    except (struct.error, OverflowError):
        raise ValueError(f"{point.name}: {value!r} does not fit a {point.type.value}") from None
    return _from_bytes(point, data)


def _label(point: ModbusPoint, number: float) -> str:
    for code, label in point.enum:
        if code == number:
            return label
    raise DecodeError(f"code {number} not in enum", point=point.name)


def _code(point: ModbusPoint, value: Value) -> int:
    """The code of an enum point's label (or a code it lists, given as an int)."""
    for code, label in point.enum:
        if value == label or (type(value) is int and value == code):
            return code
    labels = ", ".join(label for _, label in point.enum)
    raise ValueError(f"{point.name}: {value!r} not in enum ({labels})")


def _check_available(point: ModbusPoint, raw: int, number: float, size: int) -> None:
    """Refuse a declared 'not available' value, given as unsigned raw or (signed types) as the number."""
    if raw in point.unavailable or (point.type in _SIGNED and number in point.unavailable):
        raise DecodeError(f"value not available (raw 0x{raw:0{2 * size}X})", point=point.name)


def _byteorder(point: ModbusPoint) -> Literal["big", "little"]:
    return "big" if point.byte_order is Order.BIG else "little"


def _to_bytes(point: ModbusPoint, words: Sequence[int]) -> bytes:
    ordered = words if point.word_order is Order.BIG else list(reversed(words))
    byteorder = _byteorder(point)
    return b"".join(w.to_bytes(2, byteorder) for w in ordered)


def _from_bytes(point: ModbusPoint, data: bytes) -> list[int]:
    byteorder = _byteorder(point)
    words = [int.from_bytes(data[i : i + 2], byteorder) for i in range(0, len(data), 2)]
    return words if point.word_order is Order.BIG else list(reversed(words))
