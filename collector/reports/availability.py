"""Availability per gateway and device class: time answering over time expected. Pure.

The period is cut in slots (``reports.availability.slot_s``, 15 min by default). A device **answers** in
a slot when the gateway reported it answering a poll in it (its ``online`` point true: the poller writes
it at every poll, false when the device did not answer). A slot is **expected** by the device's class:

- ``always``: every slot (a device on a permanent supply);
- ``dusk_to_dawn``: a slot whose middle is between the site's sunset and the next sunrise, less
  ``grace_min`` at both ends (a luminaire on mains switched by the cabinet's contactor is dark and
  silent by day: it is not expected to answer then).

Availability is answering expected slots over expected slots. A gateway that sent nothing (dead,
offline and never caught up) counts as not answering: its devices have no reading in those slots.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from collector.reports.config import DeviceClass, Expected
from collector.reports.nights import Span


@dataclass(frozen=True, slots=True)
class DeviceAvailability:
    gateway: str
    device: str
    device_class: str
    expected_slots: int
    answered_slots: int  # of the expected ones


def device_availability(
    gateway: str,
    device: str,
    class_name: str,
    cls: DeviceClass,
    answers_ms: Sequence[int],
    *,
    since_ms: int,
    until_ms: int,
    slot_ms: int,
    nights: Sequence[Span],
) -> DeviceAvailability:
    """``answers_ms``: when the device answered; ``nights``: dusk-to-dawn spans covering the period."""
    grace = cls.grace_min * 60_000
    windows = [(a + grace, b - grace) for a, b in nights if b - a > 2 * grace]
    answered = {(t - since_ms) // slot_ms for t in answers_ms if since_ms <= t < until_ms}
    expected = hits = 0
    k = 0
    while since_ms + k * slot_ms < until_ms:
        start = since_ms + k * slot_ms
        mid = (start + min(start + slot_ms, until_ms)) // 2
        if cls.expected is Expected.ALWAYS or any(a <= mid < b for a, b in windows):
            expected += 1
            hits += k in answered
        k += 1
    return DeviceAvailability(gateway, device, class_name, expected, hits)


@dataclass(slots=True)
class ClassAvailability:
    gateway: str
    device_class: str
    devices: int = 0
    expected_slots: int = 0
    answered_slots: int = 0

    @property
    def ratio(self) -> float | None:
        return None if not self.expected_slots else self.answered_slots / self.expected_slots


def by_gateway_and_class(rows: Iterable[DeviceAvailability]) -> list[ClassAvailability]:
    out: dict[tuple[str, str], ClassAvailability] = {}
    for r in rows:
        c = out.setdefault((r.gateway, r.device_class), ClassAvailability(r.gateway, r.device_class))
        c.devices += 1
        c.expected_slots += r.expected_slots
        c.answered_slots += r.answered_slots
    return [out[k] for k in sorted(out)]
