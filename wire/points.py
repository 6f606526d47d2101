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
    reason: str | None = None  # why the quality is not GOOD; None when it is
