"""One device's poll loop: read through the bus's driver, stamp, commit to the buffer.

Each device keeps its own phase: polls are due at ``start + offset + k·interval`` (:func:`offsets`
spreads a bus's devices over their interval), a poll that starts late does not shift the next one, and
slots missed entirely are counted as overruns, never made up in a burst.

A device that stops answering gives ``OFFLINE`` readings (value None) and ``online = False``; its
failure is logged once at ERROR, then at DEBUG while it lasts, and its recovery once at INFO. With a
back-off (:mod:`edge_agent.poll.backoff`; shared with the pollers of the other devices behind the same
unit when given a :class:`Reachability`) the poller then skips its polls (counted, nothing read,
nothing written) until the wait is over, tries again in its own slot, and goes back to every interval
at the first answer. A device that answers, but not with usable values for
some points (exception responses, MASK values), gives those points ``BAD`` readings; that too is
logged once at ERROR when it starts and at INFO when every point reads again.

A buffer with no room for a poll's readings (a full disk) has counted them as dropped and logged it;
the poller goes on polling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from drivers.base import Driver, PointValue
from drivers.errors import DeviceUnreachable, DriverError
from edge_agent.buffer.intake import Intake
from edge_agent.buffer.store import BufferFull
from edge_agent.clock import Clock
from edge_agent.poll.backoff import PollBackoff, Reachability
from edge_agent.poll.report import ReportFilter
from edge_agent.state.lastvalues import LastValues
from wire.points import Quality, Reading

log = logging.getLogger(__name__)

ONLINE_POINT = "online"


def offsets(intervals: Sequence[float]) -> list[float]:
    """Start offsets of the devices of one bus: device i of n starts at ``interval_i · i / n``, so the
    bus's polls are spread over the interval instead of all falling due at once."""
    n = len(intervals)
    return [interval * i / n for i, interval in enumerate(intervals)]


@dataclass(slots=True)
class DeviceHealth:
    online: bool | None = None
    polls: int = 0
    failures: int = 0
    overruns: int = 0  # polls started late by more than an interval (the bus or the device is too slow)
    skipped: int = 0  # polls left out while backing off from a device that does not answer
    failures_in_row: int = 0  # reads without an answer since the last one that had one
    bad_points: int = 0  # points without a usable value in the last read that had an answer
    bad: dict[str, str] = field(default_factory=dict)  # those points and why (for `edge-agent status`)
    not_buffered: int = 0  # readings the buffer had no room for (a full disk): counted there as dropped
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
        buffer: Intake,
        clock: Clock,
        backoff: PollBackoff | None = None,
        reachability: Reachability | None = None,
        report: ReportFilter | None = None,
        last_values: LastValues | None = None,
    ) -> None:
        self.driver = driver
        self.device = device
        self.points = tuple(points)
        self.interval_s = interval_s
        self.offset_s = offset_s
        if reachability is None and backoff is not None:
            reachability = Reachability(backoff)
        self.reachability = reachability  # None: every poll goes to the device, answered or not
        self._report = report  # report by exception (shared by the agent's pollers), or send everything
        self._last_values = last_values  # every reading goes in, suppressed or not
        self._buffer = buffer
        self._clock = clock
        self.health = DeviceHealth()
        # What else judges each poll (the lighting's fault monitor), after the last values; its failure is
        # logged and polling goes on.
        self.on_poll: Callable[[Sequence[Reading]], Awaitable[None]] | None = None

    async def run(self) -> None:
        due = self._clock.monotonic() + self.offset_s
        me = asyncio.current_task()
        while True:
            if me is not None and me.cancelling():
                raise asyncio.CancelledError  # a library swallowed our cancellation: honour it now
            await self._clock.sleep(due - self._clock.monotonic())
            reach = self.reachability
            if reach is None or reach.may_try(due):
                await self.poll_once(slot=due)
            else:
                self.health.skipped += 1
                if self.health.online is not False:  # another device on the same unit found it silent
                    await self._mark_unreachable(f"its unit does not answer ({reach.reason})")
            due += self.interval_s
            now = self._clock.monotonic()
            if now - due > self.interval_s:  # fell behind: skip the missed slots, keep the phase
                missed = int((now - due) // self.interval_s)
                self.health.overruns += missed
                due += missed * self.interval_s

    async def poll_once(self, slot: float | None = None) -> list[Reading]:
        """Read the device once; ``slot`` is when this poll was due (a back-off counts from it)."""
        ts = self._clock.now_ms()
        started = self._clock.monotonic() if slot is None else slot
        self.health.polls += 1
        reach = self.reachability
        trying = reach is not None and reach.failures_in_row > 0
        if reach is not None and trying:
            reach.trying = True
        try:
            values = await self.driver.read(self.device)
        except DeviceUnreachable as exc:
            readings = self._all(ts, Quality.OFFLINE, exc.reason)
            self.health.failures_in_row += 1
            retry_at = None if exc.retry_in_s is None else self._clock.monotonic() + exc.retry_in_s
            self._failed(
                exc, None if reach is None else reach.failed(started, self.device, exc.reason, retry_at)
            )
        except DriverError as exc:
            readings = self._all(ts, Quality.BAD, exc.reason)
            self._failed(exc)
        else:
            readings = [self._reading(ts, v) for v in values]
            readings.append(Reading(self.device, ONLINE_POINT, ts, True))
            self._recovered()
            self._check_points(values)
        finally:
            if reach is not None and trying:
                reach.trying = False
        self.health.last_poll_ms = ts
        return await self._commit(readings)

    async def _commit(self, readings: list[Reading]) -> list[Reading]:
        """Note ``readings`` as the points' last values, then buffer those worth reporting (all of them
        without report by exception); returns those."""
        if self._last_values is not None:
            self._last_values.update(readings)
        if self.on_poll is not None:
            try:
                await self.on_poll(readings)
            except Exception:
                log.exception("%s: judging the poll failed; polling goes on", self.device)
        if self._report is not None:
            readings = self._report.filter(readings, self._clock.monotonic())
        try:
            await self._buffer.append(readings)
        except BufferFull:  # the buffer counted them (dropped: disk full) and logged it: poll on
            self.health.not_buffered += len(readings)
        return readings

    async def _mark_unreachable(self, reason: str) -> None:
        """Readings and state of a device whose unit stopped answering, without going to the bus."""
        ts = self._clock.now_ms()
        self._failed(DeviceUnreachable(reason, device=self.device))
        self.health.last_poll_ms = ts
        await self._commit(self._all(ts, Quality.OFFLINE, reason))

    def _reading(self, ts: int, v: PointValue) -> Reading:
        if v.error is not None:
            return Reading(self.device, v.point, ts, None, Quality.BAD, v.error)
        return Reading(self.device, v.point, ts if v.ts_ms is None else v.ts_ms, v.value)

    def _all(self, ts: int, quality: Quality, reason: str) -> list[Reading]:
        out = [Reading(self.device, p, ts, None, quality, reason) for p in self.points]
        out.append(Reading(self.device, ONLINE_POINT, ts, False, Quality.GOOD, reason))
        return out

    def _failed(self, exc: DriverError, wait: float | None = None) -> None:
        self.health.failures += 1
        self.health.last_error = exc.reason
        later = f"; next try in {wait:g} s" if wait is not None else ""
        if self.health.online is not False:
            log.error(
                "device %s on %s is not answering: %s%s", self.device, self.driver.name, exc.reason, later
            )
        else:
            log.debug("device %s still failing: %s%s", self.device, exc.reason, later)
        self.health.online = False

    def _recovered(self) -> None:
        if self.health.online is False:
            log.info("device %s on %s answers again", self.device, self.driver.name)
        self.health.online = True
        self.health.last_error = None
        self.health.failures_in_row = 0
        if self.reachability is not None:
            self.reachability.answered()

    def _check_points(self, values: Sequence[PointValue]) -> None:
        bad = [v for v in values if v.error is not None]
        if bad and not self.health.bad_points:
            log.error(
                "device %s on %s: %d of %d points unusable: %s: %s",
                self.device,
                self.driver.name,
                len(bad),
                len(values),
                bad[0].point,
                bad[0].error,
            )
        elif not bad and self.health.bad_points:
            log.info("device %s on %s: every point reads again", self.device, self.driver.name)
        self.health.bad_points = len(bad)
        self.health.bad = {v.point: v.error or "" for v in bad}
