"""The one in-process record of a measurement: :class:`Reading`."""

from __future__ import annotations

import enum
from dataclasses import dataclass

Value = float | int | str | bool | None


class Quality(enum.IntEnum):
    """How far a reading can be trusted. The integer is what goes on the wire."""

    GOOD = 0
    BAD = 1  # the device answered, but the value is unusable (exception response, MASK, decode error)
    OFFLINE = 2  # the device did not answer at all


@dataclass(frozen=True, slots=True)
class Reading:
    """A named, scaled value of one point of one device at one instant (UTC, milliseconds)."""

    device: str
    point: str
    ts_ms: int
    value: Value
    quality: Quality = Quality.GOOD
    reason: str | None = None  # why the quality is not GOOD, or why a GOOD ``online`` is False


def value_flaw(quality: Quality, value: Value) -> str | None:
    """What is wrong with this value at this quality, or None: a reading that is not GOOD carries no
    value (nil on the wire), so nobody can mistake a stale or garbage number for a measurement."""
    if quality is not Quality.GOOD and value is not None:
        return f"value must be nil when quality is {int(quality)} ({quality.name.lower()}), got {value!r}"
    return None
