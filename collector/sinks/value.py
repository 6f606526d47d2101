"""How a reading's value maps onto store columns and back, keeping its Python type.

``value_kind`` says which type the gateway sent; numbers (and booleans, as 0/1) go to ``value_num`` so
they can be compared and aggregated in SQL, text to ``value_text``. An integer a double cannot hold
exactly (beyond ±2**53: 64-bit energy counters) also keeps its exact digits in ``value_text``.
"""

from __future__ import annotations

import enum

from wire.points import Value

_EXACT = 2**53


class ValueKind(enum.IntEnum):
    NONE = 0
    BOOL = 1
    INT = 2
    FLOAT = 3
    TEXT = 4


def to_columns(value: Value) -> tuple[ValueKind, float | None, str | None]:
    """``(value_kind, value_num, value_text)`` for a value."""
    if value is None:
        return ValueKind.NONE, None, None
    if isinstance(value, bool):
        return ValueKind.BOOL, float(value), None
    if isinstance(value, int):
        return ValueKind.INT, float(value), (str(value) if abs(value) > _EXACT else None)
    if isinstance(value, float):
        return ValueKind.FLOAT, value, None
    return ValueKind.TEXT, None, value


def from_columns(kind: int, num: float | None, text: str | None) -> Value:
    """The value :func:`to_columns` was given."""
    match ValueKind(kind):
        case ValueKind.NONE:
            return None
        case ValueKind.BOOL:
            return bool(num)
        case ValueKind.INT:
            return int(text) if text is not None else int(num or 0)
        case ValueKind.FLOAT:
            return float(num) if num is not None else None
        case ValueKind.TEXT:
            return text
