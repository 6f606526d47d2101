"""Answers to values, as pure functions: no I/O, no state.

``decode(point, raw)`` turns the answer bytes of one point into its value: the one byte a query got
back, or the bytes of a memory value in location order. A query's byte is the value (the status and
LED failure bitfields), except an arc level: 255 is MASK (no level known: lamp failure, preheat), the
rest goes through the logarithmic dimming curve to percent. A memory value is decoded by python-dali's
memory map (DiiA 252/253, ``dali/memory/location.py``):

- a scaled value (bank 202 energy and power) is a scale byte, a signed exponent −6..6, then the raw
  value MSB first: value = raw × 10^scale; any other scale byte is invalid;
- a temperature is raw − 60 °C; a fixed-scale value is raw × its factor (supply voltage 0.1 V, power
  factor 0.01, light-source current 0.001 A); a flag is 0 or 1;
- TMASK (all ones but the last bit: 0xFE, 0xFFFE, …) is "temporarily unavailable" and MASK (all ones)
  is "not implemented or read-protected", for the values the specification gives them; a value above
  its range is invalid.

Anything that is not a value raises :class:`drivers.errors.DecodeError` (quality BAD for that point).
"""

from __future__ import annotations

from decimal import Decimal

from dali.memory.location import FlagValue

from drivers.base import Value
from drivers.dali.config import DaliPoint
from drivers.dali.curve import arc_to_percent
from drivers.dali.points import SOURCES, QuerySource
from drivers.errors import DecodeError

MASK_BYTE = 0xFF
_FLAGS = {
    FlagValue.TMASK: "TMASK: temporarily unavailable",
    FlagValue.MASK: "MASK: not implemented or read-protected",
}


def decode(point: DaliPoint, raw: bytes) -> Value:
    source = SOURCES[point.quantity]
    if isinstance(source, QuerySource):
        return _answer(point, source, raw)
    expected = len(source.locations)
    if len(raw) != expected:
        raise DecodeError(f"expected {expected} bytes, got {len(raw)}", point=point.name)
    flag = source.value.check_raw(raw)
    if flag is not None:
        reason = _FLAGS.get(flag, f"not a valid value for {source.value.name}")
        raise DecodeError(f"{reason} (raw 0x{raw.hex().upper()})", point=point.name)
    value = source.value.raw_to_value(raw)
    if isinstance(value, bool | int):
        return value
    if isinstance(value, Decimal):
        return float(value)
    raise DecodeError(f"python-dali gave {value!r} for 0x{raw.hex().upper()}", point=point.name)


def _answer(point: DaliPoint, source: QuerySource, raw: bytes) -> Value:
    if len(raw) != 1:
        raise DecodeError(f"a query is answered with 1 byte, got {len(raw)}", point=point.name)
    byte = raw[0]
    if not source.arc_level:
        return byte
    if byte == MASK_BYTE:
        raise DecodeError("MASK: no actual level (lamp failure or preheating)", point=point.name)
    return round(arc_to_percent(byte), 3)
