"""A luminaire's energy counter readings as intervals of known (or unknown) energy. Pure.

Between two successive readings of the D4i active-energy counter (Wh) the energy is the difference —
except when the counter went on from another start:

- **wrap**: the counter is ``bits`` wide and went past its top; the energy is ``b + 2**bits - a``, if
  that is possible in the time (at most ``max_power_w`` over the interval);
- **new gear** (the driver was replaced): the counter dropped and no wrap explains it, or the gear's
  identity (a serial number point, where the interface reads one) changed. The new gear's counter
  starts a new segment; the energy between the old gear's last reading and the new one's first is
  unknown (``wh`` None), never negative;
- **jump**: the counter rose more than ``max_power_w`` allows (a used gear put in, a corrupt read): the
  same, a new segment and an unknown interval.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

_MS_PER_H = 3_600_000
_ROUNDING_WH = 1.0  # the counter reads whole Wh


@dataclass(frozen=True, slots=True)
class CounterReading:
    ts_ms: int
    wh: int
    serial: str | None = None  # the gear's identity at that poll; None: not read


class Link(enum.StrEnum):
    COUNTED = "counted"  # the same counter went on: the difference
    WRAP = "wrap"  # past the counter's top
    NEW_GEAR = "new gear"  # dropped, or another serial: a new counter segment
    JUMP = "jump"  # rose faster than any luminaire can: a new counter segment


@dataclass(frozen=True, slots=True)
class Interval:
    start_ms: int
    end_ms: int
    wh: float | None  # None: not known (the counter started again in between)
    link: Link

    @property
    def hours(self) -> float:
        return (self.end_ms - self.start_ms) / _MS_PER_H


def intervals(readings: Sequence[CounterReading], *, bits: int, max_power_w: float) -> list[Interval]:
    """The intervals between successive readings (sorted by time; a second reading at the same instant
    is dropped)."""
    ordered: list[CounterReading] = []
    for r in sorted(readings, key=lambda r: r.ts_ms):
        if not ordered or r.ts_ms > ordered[-1].ts_ms:
            ordered.append(r)
    out = []
    for a, b in itertools.pairwise(ordered):
        out.append(_link(a, b, bits, max_power_w))
    return out


def _link(a: CounterReading, b: CounterReading, bits: int, max_power_w: float) -> Interval:
    most = max_power_w * (b.ts_ms - a.ts_ms) / _MS_PER_H + _ROUNDING_WH
    if a.serial is not None and b.serial is not None and a.serial != b.serial:
        return Interval(a.ts_ms, b.ts_ms, None, Link.NEW_GEAR)
    delta = b.wh - a.wh
    if delta >= 0:
        if delta <= most:
            return Interval(a.ts_ms, b.ts_ms, float(delta), Link.COUNTED)
        return Interval(a.ts_ms, b.ts_ms, None, Link.JUMP)
    wrapped = delta + 2**bits
    if wrapped <= most:
        return Interval(a.ts_ms, b.ts_ms, float(wrapped), Link.WRAP)
    return Interval(a.ts_ms, b.ts_ms, None, Link.NEW_GEAR)
