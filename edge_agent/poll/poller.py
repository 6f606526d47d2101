"""One device's poll loop: read through the bus's driver, stamp, commit to the buffer.

A device that stops answering gives ``OFFLINE`` readings (value None) and ``online = False``; its
failure is logged once at ERROR, then at DEBUG while it lasts, and its recovery once at INFO.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from drivers.base import Driver, PointValue
from drivers.errors import DeviceUnreachable, DriverError
from edge_agent.buffer.store import Buffer
from edge_agent.clock import Clock
from edge_agent.points import Quality, Reading

log = logging.getLogger(__name__)

ONLINE_POINT = "online"


@dataclass(slots=True)
class DeviceHealth:
    online: bool | None = None
    polls: int = 0
    failures: int = 0
    overruns: int = 0  # polls started late by more than an interval (the bus or the device is too slow)
    last_poll_ms: int | None = None
    last_error: str | None = None


class DevicePoller:
    def __init__(
        self,
        *,
        driver: Driver,
        device: str,
        points: Sequence[str],
        interval_s: float,
        offset_s: float,
        buffer: Buffer,
        clock: Clock,
    ) -> None:
        self.driver = driver
        self.device = device
        self.points = tuple(points)
        self.interval_s = interval_s
        self.offset_s = offset_s
        self._buffer = buffer
        self._clock = clock
        self.health = DeviceHealth()

    async def run(self) -> None:
        due = self._clock.monotonic() + self.offset_s
        while True:
            await self._clock.sleep(due - self._clock.monotonic())
            await self.poll_once()
            due += self.interval_s
            now = self._clock.monotonic()
            if now - due > self.interval_s:  # fell behind: skip the missed slots, keep the phase
                missed = int((now - due) // self.interval_s)
                self.health.overruns += missed
                due += missed * self.interval_s

    async def poll_once(self) -> list[Reading]:
        ts = self._clock.now_ms()
        self.health.polls += 1
        try:
            values = await self.driver.read(self.device)
        except DeviceUnreachable as exc:
            readings = self._all(ts, Quality.OFFLINE, exc.reason)
            self._failed(exc)
        except DriverError as exc:
            readings = self._all(ts, Quality.BAD, exc.reason)
            self._failed(exc)
        else:
            readings = [self._reading(ts, v) for v in values]
            readings.append(Reading(self.device, ONLINE_POINT, ts, True))
            self._recovered()
        self.health.last_poll_ms = ts
        await self._buffer.append(readings)
        return readings

    def _reading(self, ts: int, v: PointValue) -> Reading:
        if v.error is not None:
            return Reading(self.device, v.point, ts, None, Quality.BAD, v.error)
        return Reading(self.device, v.point, ts, v.value)

    def _all(self, ts: int, quality: Quality, reason: str) -> list[Reading]:
        out = [Reading(self.device, p, ts, None, quality, reason) for p in self.points]
        out.append(Reading(self.device, ONLINE_POINT, ts, False, Quality.GOOD, reason))
        return out

    def _failed(self, exc: DriverError) -> None:
        self.health.failures += 1
        self.health.last_error = exc.reason
        if self.health.online is not False:
            log.error("device %s on %s is not answering: %s", self.device, self.driver.name, exc.reason)
        else:
            log.debug("device %s still failing: %s", self.device, exc.reason)
        self.health.online = False

    def _recovered(self) -> None:
        if self.health.online is False:
            log.info("device %s on %s answers again", self.device, self.driver.name)
        self.health.online = True
        self.health.last_error = None
