"""Overrides (TALQ ``OverrideCommand``): a level for some devices from a start to an expiry, then back to
the program by itself. A newer override replaces the older one on the devices it names (others keep
theirs); cancelling returns its devices to the program at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Override:
    id: str
    devices: frozenset[str]
    level: int
    start: dt.datetime  # aware
    expiry: dt.datetime  # aware, after start
    issued_ms: int  # orders overrides: the later issued replaces the earlier
    ramp_s: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.level <= 100:
            raise ValueError(f"override {self.id}: level {self.level} is not 0-100 %")
        if self.expiry <= self.start:
            raise ValueError(f"override {self.id}: expiry {self.expiry} is not after start {self.start}")
        if not self.devices:
            raise ValueError(f"override {self.id}: names no device")

    def active(self, at: dt.datetime) -> bool:
        return self.start <= at < self.expiry


class Overrides:
    """The override in force per device: the latest issued one that names it."""

    def __init__(self, initial: Iterable[Override] = ()) -> None:
        self._by_device: dict[str, Override] = {}
        for o in sorted(initial, key=lambda o: o.issued_ms):
            self.put(o)

    def put(self, o: Override) -> list[str]:
        """Install ``o`` on its devices where it is newer than theirs; returns the devices it took."""
        taken = []
        for d in sorted(o.devices):
            held = self._by_device.get(d)
            if held is None or held.issued_ms <= o.issued_ms:
                self._by_device[d] = o
                taken.append(d)
        return taken

    def cancel(self, override_id: str) -> list[str]:
        """Remove the override ``override_id`` wherever it is in force; returns the devices freed."""
        freed = [d for d, o in self._by_device.items() if o.id == override_id]
        for d in freed:
            del self._by_device[d]
        return sorted(freed)

    def in_force(self, device: str, at: dt.datetime) -> Override | None:
        o = self._by_device.get(device)
        return o if o is not None and o.active(at) else None

    def prune(self, at: dt.datetime) -> list[Override]:
        """Forget the overrides that expired by ``at``; returns them (each once)."""
        gone = {o.id: o for d, o in list(self._by_device.items()) if o.expiry <= at}
        self._by_device = {d: o for d, o in self._by_device.items() if o.expiry > at}
        return list(gone.values())

    def next_change(self, after: dt.datetime) -> dt.datetime | None:
        """The next start or expiry after ``after`` (the runner wakes then)."""
        times = [t for o in self._by_device.values() for t in (o.start, o.expiry) if t > after]
        return min(times, default=None)

    def all(self) -> list[Override]:
        return sorted({o.id: o for o in self._by_device.values()}.values(), key=lambda o: o.issued_ms)
