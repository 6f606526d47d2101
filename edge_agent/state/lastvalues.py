"""The last value of each device's points, as the pollers last read them.

Every reading of a poll goes in — those that report by exception keeps from the wire too, and bad and
offline qualities (with their reason): the cache says what the agent last saw, not what it last sent.
Readable by other components: the status server (``{"cmd": "values"}``), later lighting programs and the
control room's questions.

**Safety interlocks must NOT read it.** A value here may be a poll interval old, or older while a device
backs off; an interlock reads the value fresh, through the bus's queue, at the moment the command
executes (``edge_agent/commands``).

In memory only, one entry per point (bounded by the config's points); updated on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from wire.points import Reading


class LastValues:
    def __init__(self) -> None:
        self._devices: dict[str, dict[str, Reading]] = {}

    def update(self, readings: Iterable[Reading]) -> None:
        """Keep each reading as its point's last (a reading older than the one kept is ignored)."""
        for r in readings:
            points = self._devices.setdefault(r.device, {})
            kept = points.get(r.point)
            if kept is None or r.ts_ms >= kept.ts_ms:
                points[r.point] = r

    def get(self, device: str, point: str) -> Reading | None:
        return self._devices.get(device, {}).get(point)

    def device(self, device: str) -> Mapping[str, Reading]:
        """The device's points (read-only; empty before its first poll)."""
        return MappingProxyType(self._devices.get(device, {}))

    def devices(self) -> list[str]:
        return sorted(self._devices)
