"""The lighting runner: every device with a calendar gets the level the program set wants *now*, as a
command through the agent's command path (after its authentication gate: interlocks, night floor,
read-back, a result in the outbox). It runs whether or not the centre is reachable.

What a device is told, in order:

1. the override in force for it (:mod:`.overrides`);
2. with a trusted clock and an installed set: :func:`lighting.night.wanted` (the program's step now,
   not the steps missed during an outage or a restart);
3. with a trusted clock and no set: the default level from dusk to dawn on the astronomical clock,
   off by day;
4. without a trusted clock (never synchronised, or stepped beyond ``clock_step_tolerance_s``): the
   default level, day and night (never dark by software); :attr:`LightingRunner.clock_trusted` says so.
   With a ``synchronised`` source (the kernel's word, :mod:`.clocksync`) the clock is trusted while it
   says synchronised (setting the clock by hand makes the kernel say it is not; a step while it says
   synchronised is the NTP daemon's); without one, or while it cannot tell, from the start until a
   step beyond the tolerance, and again after :meth:`LightingRunner.clock_synchronised`.

A cabinet with a mains contactor (``switch``: the ``switch`` action of its relay output, see
``configs/profiles/cabinet-contactor.yaml``) is switched on when any device should have light and off
when none should (dawn, or a program's "off"): while the runner wants the circuit off it sends no DALI
command at all (never a DALI OFF at dawn: the gear has no mains), and after each switching it sends every
device its level again (the gear came up at its POWER ON LEVEL). A switching not confirmed is tried
again after ``retry_s``; the levels are sent anyway (the hardware fallback may hold the circuit live).

A level is sent when it differs from the last one the device confirmed (``done``); a command that did
not end ``done`` is tried again after ``retry_s``, as a new command (a write is never retried within
one). The runner wakes at the next switch point or override change, on an install, an override or a
cancel, and at least every ``tick_s`` (so a wall-clock step is seen).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from edge_agent.clock import Clock
from edge_agent.lighting.overrides import Override, Overrides
from lighting.model import ProgramSet
from lighting.night import Night, dusk_to_dawn, evening_of, plan_night, wanted_by_calendar
from lighting.sun import Place

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Order:
    """One level for one device, and why."""

    device: str
    level: int
    ramp_s: float
    reason: str  # "program normal 2027-01-12 22:00", "override o-7", "default: ..."
    version: int | None  # the program set whose authority it runs under (None: no set installed)


Apply = Callable[[Order], Awaitable[bool]]
"""Runs an order through the command path; True once the device confirmed it (``done``)."""
Synchronised = Callable[[], bool | None]
"""Whether the wall clock is synchronised now (None: cannot tell)."""
Switch = Callable[[bool, str], Awaitable[bool]]
"""Switches the cabinet's contactor on or off (and why) through the command path; True once read back."""


class LightingRunner:
    def __init__(
        self,
        *,
        devices: Sequence[str],
        place: Place,
        clock: Clock,
        apply: Apply,
        default_level: int = 100,
        clock_trusted: bool = True,
        clock_step_tolerance_s: float = 300.0,
        tick_s: float = 60.0,
        retry_s: float = 300.0,
        max_parallel: int = 16,
        switch: Switch | None = None,
        synchronised: Synchronised | None = None,
    ) -> None:
        self._devices = tuple(devices)
        self._place = place
        self._clock = clock
        self._apply = apply
        self._default_level = default_level
        self._tolerance_ms = clock_step_tolerance_s * 1000
        self._tick_s = tick_s
        self._retry_s = retry_s
        self._max_parallel = max_parallel
        self.clock_trusted = clock_trusted
        self._offset_ms: float | None = None  # wall - monotonic at the last look
        self._set: ProgramSet | None = None
        self._plans: dict[tuple[str, dt.date], Night] = {}
        self.overrides = Overrides()
        self._confirmed: dict[str, int] = {}  # device -> the level it confirmed last
        self._failed_at: dict[str, tuple[int, float]] = {}  # device -> (level, monotonic) of a failure
        self._switch = switch
        self._synchronised = synchronised
        self._mains: bool | None = None  # the contactor's output as last read back (None: not known)
        self._switch_failed: tuple[bool, float] | None = None  # (wanted, monotonic) of a failure
        self._wake = asyncio.Event()
        self.orders = 0
        self.switchings = 0

    @property
    def devices(self) -> tuple[str, ...]:
        return self._devices

    @property
    def program_set(self) -> ProgramSet | None:
        return self._set

    @property
    def version(self) -> int | None:
        """The version of the set it runs (None: none installed)."""
        return self._set.version if self._set is not None else None

    @property
    def mode(self) -> str:
        """``default_no_clock`` (no trusted clock: the default level), ``default_dusk_to_dawn`` (no set:
        the default level by night) or ``program`` (overrides aside)."""
        if not self.clock_trusted:
            return "default_no_clock"
        return "program" if self._set is not None else "default_dusk_to_dawn"

    @property
    def mains(self) -> bool | None:
        """The contactor's output as last confirmed (None: no contactor, or not known yet)."""
        return self._mains

    def install(self, pset: ProgramSet | None) -> None:
        self._set = pset
        self._plans.clear()
        self._wake.set()

    def override(self, o: Override) -> list[str]:
        taken = self.overrides.put(o)
        self._wake.set()
        return taken

    def cancel(self, override_id: str) -> list[str]:
        freed = self.overrides.cancel(override_id)
        self._wake.set()
        return freed

    def confirmed(self, device: str) -> int | None:
        """The level ``device`` last confirmed (``done``), or None (not yet, failed, or forgotten)."""
        return self._confirmed.get(device)

    def forget(self, device: str) -> None:
        """The device may no longer be at the level it confirmed (its gear was power-cycled: mains came
        back, at the gear's power-on level): tell it again at the next look."""
        if self._confirmed.pop(device, None) is not None:
            self._wake.set()

    def clock_synchronised(self) -> None:
        """The wall clock is trusted again (NTP, or the centre's time)."""
        self.clock_trusted = True
        self._offset_ms = None
        self._wake.set()

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock.now_ms() / 1000, dt.UTC)

    def order_for(self, device: str, at: dt.datetime) -> Order:
        version = self._set.version if self._set is not None else None
        o = self.overrides.in_force(device, at)
        if o is not None:
            return Order(device, o.level, o.ramp_s, f"override {o.id}", version)
        if not self.clock_trusted:
            return Order(device, self._default_level, 0.0, "default: no trusted clock", version)
        pset = self._set
        calendar = pset.calendar_of(device) if pset is not None else None
        if pset is None or calendar is None:
            why = "no program set" if pset is None else "no calendar"
            if dusk_to_dawn(at, self._place).night:
                return Order(device, self._default_level, 0.0, f"default dusk to dawn: {why}", version)
            return Order(device, 0, 0.0, f"default, day: {why}", version)
        w = wanted_by_calendar(pset, calendar, at, self._place, self._plan)
        return Order(device, w.level, w.ramp_s, w.reason, version)

    async def run(self) -> None:
        while True:
            self._wake.clear()
            await self.evaluate()
            wait = asyncio.ensure_future(self._wake.wait())
            sleep = asyncio.ensure_future(self._clock.sleep(self._next_wake_s()))
            try:
                await asyncio.wait({wait, sleep}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for f in (wait, sleep):
                    f.cancel()

    async def evaluate(self) -> list[Order]:
        """Send every device the level it should have now, where it differs; returns the orders sent."""
        self._watch_clock()
        at = self.now()
        for o in self.overrides.prune(at):
            log.info("override %s expired: %d devices back to their program", o.id, len(o.devices))
        orders = [self.order_for(device, at) for device in self._devices]
        if self._switch is not None:
            lit = [o for o in orders if o.level > 0]
            await self._switched(bool(lit), lit[0].reason if lit else "no light wanted")
            if not lit:
                return []  # the circuit is (being) switched off: no DALI command, no DALI OFF
        sent = [o for o in orders if self._due(o)]
        self.orders += len(sent)
        # Every device at once (a step reaches a cabinet's luminaires together, not one settle after the
        # other); at most max_parallel in flight: the bus queue serialises the wire anyway.
        limit = asyncio.Semaphore(self._max_parallel)

        async def send(order: Order) -> None:
            async with limit:
                ok = await self._apply(order)
            if ok:
                self._confirmed[order.device] = order.level
                self._failed_at.pop(order.device, None)
            else:
                self._confirmed.pop(order.device, None)
                self._failed_at[order.device] = (order.level, self._clock.monotonic())

        await asyncio.gather(*(send(o) for o in sent))
        return sent

    def _due(self, order: Order) -> bool:
        """Whether ``order`` must be sent: the device has not confirmed that level, and it did not just
        fail it (a failure waits ``retry_s``)."""
        if self._confirmed.get(order.device) == order.level:
            return False
        failed = self._failed_at.get(order.device)
        recent = failed is not None and self._clock.monotonic() - failed[1] < self._retry_s
        return not (failed is not None and failed[0] == order.level and recent)

    async def _switched(self, on: bool, reason: str) -> None:
        """The contactor switched to ``on`` unless it already is (or failed recently)."""
        assert self._switch is not None
        if self._mains == on:
            return
        failed = self._switch_failed
        if failed is not None and failed[0] == on and self._clock.monotonic() - failed[1] < self._retry_s:
            return
        self.switchings += 1
        self._confirmed.clear()  # the gear loses mains, or comes up at its power-on level
        if await self._switch(on, reason):
            self._mains, self._switch_failed = on, None
        else:
            self._mains, self._switch_failed = None, (on, self._clock.monotonic())

    def _watch_clock(self) -> None:
        """The kernel's word when it has one (a step it calls synchronised is NTP's own); else a step
        beyond the tolerance makes the clock untrusted until :meth:`clock_synchronised`."""
        offset = self._clock.now_ms() - self._clock.monotonic() * 1000
        step_s = 0.0 if self._offset_ms is None else (offset - self._offset_ms) / 1000
        self._offset_ms = offset
        synced = self._synchronised() if self._synchronised is not None else None
        if synced is True:
            if not self.clock_trusted:
                log.info("the wall clock is synchronised: lighting runs its program again")
            self.clock_trusted = True
        elif synced is False:
            if self.clock_trusted:
                log.error("the wall clock is not synchronised: lighting runs the default level until it is")
            self.clock_trusted = False
        elif abs(step_s) * 1000 > self._tolerance_ms:
            if self.clock_trusted:
                log.error(
                    "the wall clock stepped by %.0f s: lighting runs the default level until it is "
                    "synchronised again",
                    step_s,
                )
            self.clock_trusted = False

    def _plan(self, calendar: str, evening: dt.date) -> Night:
        key = (calendar, evening)
        night = self._plans.get(key)
        if night is None:
            assert self._set is not None
            if len(self._plans) > 64:
                self._plans.clear()
            night = self._plans[key] = plan_night(self._set, calendar, evening, self._place)
        return night

    def _unprogrammed(self, device: str) -> bool:
        return self._set is None or self._set.calendar_of(device) is None

    def _next_wake_s(self) -> float:
        at = self.now()
        times: list[dt.datetime] = []
        change = self.overrides.next_change(at)
        if change is not None:
            times.append(change)
        if self.clock_trusted and any(self._unprogrammed(d) for d in self._devices):
            change_at = dusk_to_dawn(at, self._place).until
            if change_at is not None:
                times.append(change_at)
        if self._set is not None and self.clock_trusted:
            evening = evening_of(at, self._place)
            for calendar in self._set.calendars:
                for e in (evening, evening + dt.timedelta(days=1)):
                    night = self._plan(calendar, e)
                    times += [s.at for s in night.switches if s.at > at]
                    times.append(night.end)
        soonest = min(times, default=None)
        until = (soonest - at).total_seconds() if soonest is not None else self._tick_s
        return max(0.001, min(self._tick_s, until))
