"""Lamp and behaviour faults at the edge (TALQ LampMonitor): the gateway judges each luminaire from its
own polls and reports each fault once when it is raised and once when it is cleared, as a
``fault_raised`` / ``fault_cleared`` event (:mod:`wire.events`) through the outbox, timed by the poll
that showed it. Thresholds: :class:`~edge_agent.config.faults.FaultsConfig`; the faults, their evidence
and what the street sees: ``docs/lighting.md``, "Faults at the edge".

Fed by the poll loop: :meth:`FaultMonitor.observe_readings` with a poll's readings, or
:meth:`FaultMonitor.observe` with a device's values (a point that could not be read is None) and
:meth:`FaultMonitor.observe_unreachable` for a poll without an answer. ``wanted`` gives
the level (%) the device is commanded at a moment (the lighting runner's order: program, override or
default); 0 is off. A level is judged only once the level wanted has held ``ramp_grace_s``: the same
now and ``ramp_grace_s`` earlier, and unchanged since the poll that first saw it.

The faults (what raises and clears each: ``docs/lighting.md``): ``lamp_failure`` (status b0/b1, an LED
or light-source failure flag), ``dimming_failure`` (the level read off the level wanted by more than
``dimming_tolerance_pct``; not while fading, nor when a lamp failure or supply loss explains it),
``cycling`` (more than ``cycling_max_starts`` gear starts in ``cycling_window_min``), ``day_burner``
(lit while the level wanted is 0 and the sun is up), ``supply_loss`` (a supply voltage below
``supply_min_v``), ``gear_comm_failure`` (``comm_failure_after_polls`` polls in a row without the gear's
status). With ``switched_mains`` a luminaire should have mains only while the level wanted is above 0
(and was ``ramp_grace_s`` earlier): silence and 0 V are otherwise no fault. A fault is cleared only by a
poll that shows it gone, never by silence; an event the outbox refuses (full) leaves the state as it
was, so the next poll tries again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from edge_agent.config.faults import FaultsConfig
from edge_agent.lighting.starts import StartWindow
from edge_agent.outbox.store import OutboxFull
from lighting.night import dusk_to_dawn
from lighting.sun import Place
from wire.events import Event, EventKind, FaultName
from wire.points import Quality, Reading, Value

log = logging.getLogger(__name__)

GEAR_FAILURE, LAMP_FAILURE, LAMP_ON, FADE_RUNNING = 0x01, 0x02, 0x04, 0x10  # DALI status byte
SOURCE_OVERALL = 0x01  # DiiA 253 light-source failure flags
ONLINE_POINT = "online"  # the poller's: False when the poll got no answer

Wanted = Callable[[str, dt.datetime], int]
"""``(device, at) -> level %`` the device is commanded at ``at`` (0: off)."""
Report = Callable[[Event], Awaitable[object]]
"""Puts an event in the outbox (``outbox.put(TopicKind.EVENT, encode_event(event))``)."""


@dataclass(frozen=True, slots=True)
class LampPoints:
    """The points the monitor reads, by their names in the device's profile (``dali-gw-luminaire``)."""

    status: str = "status"
    level: str = "level"
    led_failure: str = "led_failure"
    light_source_failure: str = "light_source_failure"
    supply_voltage: str = "supply_voltage"
    start_counter: str = "start_counter"


@dataclass(slots=True)
class _Lamp:
    device: str
    starts: StartWindow  # the gear's starts within the cycling window
    active: dict[FaultName, int] = field(default_factory=dict)  # fault -> at_ms of its fault_raised
    unanswered: int = 0  # polls in a row without the gear's status, while it should have mains
    silent_since_ms: int | None = None
    counter_before_silence: int | None = None
    counter: int | None = None  # the start counter at the last poll that read it
    wanted: int | None = None  # the level wanted at the last poll, and since which poll
    wanted_since_ms: int | None = None


@dataclass(frozen=True, slots=True)
class _Poll:
    lamp: _Lamp
    at: dt.datetime
    ts_ms: int

    @property
    def device(self) -> str:
        return self.lamp.device


class FaultMonitor:
    def __init__(
        self,
        *,
        config: FaultsConfig,
        place: Place,
        wanted: Wanted,
        report: Report,
        points: LampPoints | None = None,
    ) -> None:
        self._cfg = config
        self._place = place
        self._wanted = wanted
        self._report = report
        self._points = points or LampPoints()
        self._lamps: dict[str, _Lamp] = {}
        self.raised = 0
        self.cleared = 0
        self.refused = 0  # events the outbox had no room for (tried again at the next poll)

    def active(self, device: str) -> Mapping[FaultName, int]:
        """The device's faults now, each with the time it was raised (UTC ms)."""
        lamp = self._lamps.get(device)
        return MappingProxyType(lamp.active if lamp is not None else {})

    async def observe_readings(self, readings: Sequence[Reading]) -> None:
        """One poll's readings of one device, as the poller makes them (with its ``online`` point); a
        device without a ``status`` point is not a luminaire and is left alone."""
        if not readings:
            return
        device, ts_ms = readings[0].device, readings[0].ts_ms
        by_point = {r.point: r for r in readings}
        if self._points.status not in by_point:
            return  # not a luminaire: nothing to judge
        for point in (ONLINE_POINT, self._points.status):  # the gateway silent, or the gear behind it
            r = by_point.get(point)
            if r is not None and (r.quality is not Quality.GOOD or r.value is False):
                await self.observe_unreachable(device, ts_ms, r.reason or "no answer")
                return
        values = {r.point: r.value if r.quality is Quality.GOOD else None for r in readings}
        await self.observe(device, values, ts_ms)

    async def observe_unreachable(self, device: str, ts_ms: int, reason: str = "no answer") -> None:
        """A poll of ``device`` at ``ts_ms`` got no answer at all."""
        poll = self._poll(device, ts_ms)
        await self._silent(poll, reason, self._powered(poll))

    async def observe(self, device: str, values: Mapping[str, Value], ts_ms: int) -> None:
        """One poll of ``device`` at ``ts_ms``: its points' values (None: not read)."""
        poll = self._poll(device, ts_ms)
        p = self._points
        powered = self._powered(poll)
        status = _int(values.get(p.status))
        if status is None:
            await self._silent(poll, f"the gear's {p.status} could not be read", powered)
            return
        counter = _int(values.get(p.start_counter))
        await self._answered(poll, counter)
        failed = await self._lamp(poll, status, values)
        lost = await self._supply(poll, _num(values.get(p.supply_voltage)), powered)
        await self._cycling(poll, counter)
        await self._level(poll, status, _num(values.get(p.level)), dark_anyway=failed or lost)

    def _poll(self, device: str, ts_ms: int) -> _Poll:
        lamp = self._lamps.get(device)
        if lamp is None:
            window = StartWindow(self._cfg.cycling_window_min * 60)
            lamp = self._lamps[device] = _Lamp(device, window)
        return _Poll(lamp, dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC), ts_ms)

    def _powered(self, poll: _Poll) -> bool:
        """Note the level wanted now; whether the luminaire should have mains."""
        lamp = poll.lamp
        level = self._wanted(poll.device, poll.at)
        if level != lamp.wanted:
            lamp.wanted, lamp.wanted_since_ms = level, poll.ts_ms if lamp.wanted is not None else None
        if not self._cfg.switched_mains:
            return True
        return level > 0 and self._wanted(poll.device, poll.at - self._grace) > 0

    @property
    def _grace(self) -> dt.timedelta:
        return dt.timedelta(seconds=self._cfg.ramp_grace_s)

    def _steady(self, poll: _Poll) -> bool:
        """The level wanted now has held ``ramp_grace_s``: the ramp (and the gear's fade) is over."""
        since = poll.lamp.wanted_since_ms
        if since is not None and poll.ts_ms - since < self._cfg.ramp_grace_s * 1000:
            return False
        return self._wanted(poll.device, poll.at - self._grace) == poll.lamp.wanted

    async def _silent(self, poll: _Poll, reason: str, powered: bool) -> None:
        lamp = poll.lamp
        if not powered:  # switched mains, off: silence is what the street should see
            lamp.unanswered, lamp.silent_since_ms = 0, None
            return
        if lamp.silent_since_ms is None:
            lamp.silent_since_ms, lamp.counter_before_silence = poll.ts_ms, lamp.counter
        lamp.unanswered += 1
        if lamp.unanswered >= self._cfg.comm_failure_after_polls:
            evidence: dict[str, Value] = {
                "polls_unanswered": lamp.unanswered,
                "since_ms": lamp.silent_since_ms,
                "reason": reason[:512],
            }
            await self._raise(poll, FaultName.GEAR_COMM_FAILURE, evidence)

    async def _answered(self, poll: _Poll, counter: int | None) -> None:
        lamp = poll.lamp
        before = lamp.counter_before_silence
        evidence: dict[str, Value] = {"polls_unanswered": lamp.unanswered}
        if before is not None and counter is not None:
            evidence["restarted"] = counter > before  # it started again meanwhile: its supply was lost
        if await self._clear(poll, FaultName.GEAR_COMM_FAILURE, evidence):
            lamp.unanswered, lamp.silent_since_ms, lamp.counter_before_silence = 0, None, None

    async def _lamp(self, poll: _Poll, status: int, values: Mapping[str, Value]) -> bool:
        led = _int(values.get(self._points.led_failure))
        source = values.get(self._points.light_source_failure)  # flags (the gateway), or a flag (DALI)
        source_failed = source is True or bool((_int(source) or 0) & SOURCE_OVERALL)
        failed = bool(status & (GEAR_FAILURE | LAMP_FAILURE) or led) or source_failed
        evidence: dict[str, Value] = {
            "status": status,
            "led_failure": led,
            "light_source_failure": source,
            "gear_failure": bool(status & GEAR_FAILURE),
        }
        await self._judge(poll, FaultName.LAMP_FAILURE, failed, evidence)
        return failed

    async def _supply(self, poll: _Poll, volts: float | None, powered: bool) -> bool:
        low = volts is not None and volts < self._cfg.supply_min_v
        if volts is None or (low and not powered):
            return low  # not measured, or off on purpose (switched mains)
        evidence: dict[str, Value] = {"supply_voltage": volts, "supply_min_v": self._cfg.supply_min_v}
        await self._judge(poll, FaultName.SUPPLY_LOSS, low, evidence)
        return low

    async def _cycling(self, poll: _Poll, counter: int | None) -> None:
        if counter is None:
            return
        poll.lamp.counter = counter
        starts = poll.lamp.starts.count(poll.ts_ms, counter)
        evidence: dict[str, Value] = {
            "starts_in_window": starts,
            "window_min": self._cfg.cycling_window_min,
            "max_starts": self._cfg.cycling_max_starts,
            "start_counter": counter,
        }
        await self._judge(poll, FaultName.CYCLING, starts > self._cfg.cycling_max_starts, evidence)

    async def _level(self, poll: _Poll, status: int, level: float | None, *, dark_anyway: bool) -> None:
        wanted = poll.lamp.wanted
        assert wanted is not None  # noted by _powered
        lit = bool(status & LAMP_ON) or (level is not None and level > 0)
        burning = wanted == 0 and lit and not dusk_to_dawn(poll.at, self._place).night
        steady = self._steady(poll)
        evidence: dict[str, Value] = {"level_read": level, "status": status, "level_commanded": wanted}
        if burning and steady:
            await self._raise(poll, FaultName.DAY_BURNER, evidence)
        elif not burning:
            await self._clear(poll, FaultName.DAY_BURNER, evidence)
        if level is None or not steady or burning or dark_anyway or status & FADE_RUNNING:
            return  # not judged: no level, ramping, day burner, or dark for a reason said otherwise
        tolerance = self._cfg.dimming_tolerance_pct
        evidence = {"level_read": level, "level_commanded": wanted, "tolerance_pct": tolerance}
        await self._judge(poll, FaultName.DIMMING_FAILURE, abs(level - wanted) > tolerance, evidence)

    async def _judge(self, poll: _Poll, fault: FaultName, present: bool, evidence: dict[str, Value]) -> None:
        if present:
            await self._raise(poll, fault, evidence)
        else:
            await self._clear(poll, fault, evidence)

    async def _raise(self, poll: _Poll, fault: FaultName, evidence: dict[str, Value]) -> None:
        if fault in poll.lamp.active:
            return
        details: dict[str, Value] = {"fault": str(fault), **evidence}
        if await self._emit(Event(EventKind.FAULT_RAISED, poll.device, poll.ts_ms, details)):
            poll.lamp.active[fault] = poll.ts_ms
            self.raised += 1
            log.info("%s: %s raised (%s)", poll.device, fault, evidence)

    async def _clear(self, poll: _Poll, fault: FaultName, evidence: dict[str, Value]) -> bool:
        """Clear ``fault`` if it is raised; True once it is not (any more)."""
        raised_at = poll.lamp.active.get(fault)
        if raised_at is None:
            return True
        details: dict[str, Value] = {"fault": str(fault), "raised_at_ms": raised_at, **evidence}
        if not await self._emit(Event(EventKind.FAULT_CLEARED, poll.device, poll.ts_ms, details)):
            return False
        del poll.lamp.active[fault]
        self.cleared += 1
        log.info("%s: %s cleared (%s)", poll.device, fault, evidence)
        return True

    async def _emit(self, event: Event) -> bool:
        try:
            await self._report(event)
        except OutboxFull as exc:
            self.refused += 1
            log.warning(
                "%s: %s not recorded, tried again at the next poll: %s", event.device, event.kind, exc
            )
            return False
        return True


def _int(v: Value) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _num(v: Value) -> float | int | None:
    return v if isinstance(v, int | float) and not isinstance(v, bool) else None
