"""A node's value and status to a point's value, and back for writes: pure, no asyncua here.

``decode(point, value, status)``: a Bad status gives the point an error named after the status
(``BadNodeIdUnknown``); an Uncertain one keeps the value (the reading has no 'uncertain' quality). The
value must be a scalar of the kind ``point.type`` asks for (``auto``: any bool, integer, float or text);
an array, a null or a structure is an error for that point. Then ``raw × scale + offset`` for numbers
(an integer stays an integer when scale is 1 and offset 0; a scaled integer is rounded to the decimal
places of scale and offset, :mod:`drivers.scaling`), or the label of ``enum``.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from drivers.base import PointValue, Value
from drivers.errors import DecodeError
from drivers.opcua.config import OpcUaPoint, ValueType
from drivers.scaling import scale_int

_SEVERITY = 0xC0000000
_BAD = 0x80000000
_UNCERTAIN = 0x40000000


@dataclass(frozen=True, slots=True)
class Status:
    """An OPC-UA status code and its name (``Good``, ``BadNodeIdUnknown``, ...)."""

    code: int
    name: str

    @property
    def bad(self) -> bool:
        return self.code & _BAD != 0

    @property
    def uncertain(self) -> bool:
        return self.code & _SEVERITY == _UNCERTAIN


GOOD = Status(0, "Good")


def decode(point: OpcUaPoint, value: object, status: Status = GOOD) -> PointValue:
    if status.bad:
        return PointValue(point.name, None, f"{status.name} (0x{status.code:08X}) reading {point.where()}")
    try:
        return PointValue(point.name, _decode(point, value))
    except DecodeError as exc:
        return PointValue(point.name, None, f"{exc.reason} at {point.where()}")


def _decode(point: OpcUaPoint, value: object) -> Value:
    raw = _typed(point.type, value)
    if point.enum:
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise DecodeError(f"{raw!r} is not an integer code of the enum")
        for code, label in point.enum:
            if code == raw:
                return label
        raise DecodeError(f"code {raw} is not in the enum ({', '.join(str(c) for c, _ in point.enum)})")
    if isinstance(raw, (bool, str)):
        return raw
    if point.scale == 1 and point.offset == 0:
        return raw
    scaled = (
        scale_int(raw, point.scale, point.offset)
        if isinstance(raw, int)
        else raw * point.scale + point.offset
    )
    if not math.isfinite(scaled):
        raise DecodeError(f"{raw!r} scales to {scaled}")
    return scaled


def _typed(kind: ValueType, value: object) -> bool | int | float | str:
    if value is None:
        raise DecodeError("no value (null)")
    if isinstance(value, list | tuple):
        raise DecodeError(f"an array of {len(value)} values, not a scalar")
    if isinstance(value, float) and not math.isfinite(value):
        raise DecodeError(f"not a number ({value})")
    if isinstance(value, datetime.datetime):
        value = value.isoformat()
    match kind:
        case ValueType.AUTO if isinstance(value, bool | int | float | str):
            return value
        case ValueType.BOOL if isinstance(value, bool):
            return value
        case ValueType.BOOL if isinstance(value, int) and value in (0, 1):
            return bool(value)
        case ValueType.INT if isinstance(value, int) and not isinstance(value, bool):
            return value
        case ValueType.INT if isinstance(value, float) and value.is_integer():
            return int(value)
        case ValueType.FLOAT if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        case ValueType.STRING if isinstance(value, str):
            return value
    what = "a scalar" if kind is ValueType.AUTO else kind.value
    raise DecodeError(f"{type(value).__name__} {_short(value)} is not {what}")


def encode(point: OpcUaPoint, value: Value) -> bool | int | float | str:
    """The raw value to write for ``value`` (the inverse of :func:`decode`); ValueError if it cannot be."""
    if value is None:
        raise ValueError(f"{point.name}: cannot write null")
    if point.enum:
        for code, label in point.enum:
            if label == value:
                return code
        raise ValueError(f"{point.name}: {value!r} is not one of {[label for _, label in point.enum]}")
    if isinstance(value, (bool, str)):
        return _typed(point.type, value)
    raw: int | float = value
    if point.scale != 1 or point.offset != 0:
        raw = (value - point.offset) / point.scale
    if point.type is ValueType.INT or (point.type is ValueType.AUTO and isinstance(value, int)):
        if not float(raw).is_integer():
            raise ValueError(f"{point.name}: {value!r} does not give a whole raw value ({raw})")
        return int(raw)
    try:
        return _typed(point.type, float(raw))
    except DecodeError as exc:
        raise ValueError(f"{point.name}: {exc.reason}") from None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
