"""A night's plan and the level wanted at a moment.

A night runs from noon to noon (local) and is named by its evening. Its calendar picks a program
(:mod:`lighting.calendar`); the program's steps become switch points in time:

- a fixed-time step at 12:00 or later falls on the evening, one before 12:00 on the next morning, read
  in the site's zone with the DST rules of :mod:`lighting.clocktime`;
- a ``sunset`` step is the night's sunset plus its offset, a ``sunrise`` step the next morning's sunrise
  plus its offset;
- in a **polar night** (a solar event of the program does not happen because the sun stays below the
  horizon) the whole night runs the set's default level;
- in a **polar day** (it does not happen because the sun stays up) the astronomical steps are skipped
  and the fixed-time steps run.

A step holds until the next one; before a night's first step the previous night's last one holds; a
night without a program (no calendar, no rule, no default program) runs the default level. After an
outage or a restart, :func:`wanted` is what the gateway applies: the level the program wants *now*, not
the steps it missed.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass

from lighting.calendar import program_for
from lighting.clocktime import local_noon, wall_to_utc
from lighting.model import ProgramSet, SolarEvent
from lighting.sun import Place, Sky, Sun, solar_event

NOON = dt.time(12)


@dataclass(frozen=True, slots=True)
class Switch:
    at: dt.datetime  # aware, UTC
    level: int
    ramp_s: float
    step: str  # the step it comes from: "23:00", "sunset-15min"


@dataclass(frozen=True, slots=True)
class Night:
    evening: dt.date
    start: dt.datetime  # noon of the evening (aware, UTC)
    end: dt.datetime  # noon of the next day
    program: str | None
    sky: Sky
    switches: tuple[Switch, ...]  # in time order; empty in a polar night or without a program
    skipped: tuple[str, ...] = ()  # astronomical steps a polar day leaves out


@dataclass(frozen=True, slots=True)
class Wanted:
    level: int
    ramp_s: float
    since: dt.datetime | None  # when the step that set it ran (None: the default level)
    reason: str  # "program night/step", "default: ..."


@functools.lru_cache(maxsize=256)
def night_sun(place: Place, evening: dt.date) -> tuple[Sun, Sun]:
    """The night's sunset and the next morning's sunrise (or the sky without them). Pure, so remembered:
    the runner and the fault monitor ask for the same few nights for every device, every minute."""
    start, end = local_noon(evening, place.tz), local_noon(evening + dt.timedelta(days=1), place.tz)
    return solar_event(place, SolarEvent.SUNSET, start, end), solar_event(
        place, SolarEvent.SUNRISE, start, end
    )


def evening_of(at: dt.datetime, place: Place) -> dt.date:
    """The evening that names the night ``at`` (aware) falls in."""
    local = at.astimezone(place.tz)
    day = local.date()
    return day if local >= local_noon(day, place.tz) else day - dt.timedelta(days=1)


def plan_night(pset: ProgramSet, calendar: str | None, evening: dt.date, place: Place) -> Night:
    tz = place.tz
    start, end = local_noon(evening, tz), local_noon(evening + dt.timedelta(days=1), tz)
    program = program_for(pset.calendars[calendar], evening) if calendar is not None else None
    if program is None:
        return Night(evening, start, end, None, Sky.NORMAL, ())
    switches: list[Switch] = []
    skipped: list[str] = []
    sky = Sky.NORMAL
    for step in pset.programs[program].steps:
        event, clock = step.solar_event, step.clock_time
        if clock is not None:
            day = evening if clock >= NOON else evening + dt.timedelta(days=1)
            at = wall_to_utc(day, clock, tz)
        else:
            assert event is not None
            sun = night_sun(place, evening)[0 if event is SolarEvent.SUNSET else 1]
            if sun.at is None:
                if sun.sky is Sky.POLAR_NIGHT:
                    return Night(evening, start, end, program, Sky.POLAR_NIGHT, ())
                sky = Sky.POLAR_DAY
                skipped.append(step.describe())
                continue
            at = sun.at + dt.timedelta(minutes=step.offset_min)
        switches.append(Switch(at, step.level, step.ramp_s, step.describe()))
    switches.sort(key=lambda s: s.at)  # stable: of two steps at one instant, the later-listed holds
    return Night(evening, start, end, program, sky, tuple(switches), tuple(skipped))


PlanNight = Callable[[str, dt.date], Night]
"""``(calendar, evening) -> Night``: :func:`plan_night` for one set and place, cached by a runner."""


def wanted(pset: ProgramSet, device: str, at: dt.datetime, place: Place) -> Wanted:
    """The level the set wants ``device`` at ``at`` (aware)."""
    calendar = pset.calendar_of(device)
    if calendar is None:
        return Wanted(pset.default_level, 0.0, None, "default: no calendar")
    return wanted_by_calendar(pset, calendar, at, place)


def wanted_by_calendar(
    pset: ProgramSet, calendar: str, at: dt.datetime, place: Place, plan: PlanNight | None = None
) -> Wanted:
    """What :func:`wanted` says for every device of ``calendar``."""
    plan = plan or (lambda cal, evening: plan_night(pset, cal, evening, place))
    evening = evening_of(at, place)
    night = plan(calendar, evening)
    if night.sky is Sky.POLAR_NIGHT:
        return Wanted(pset.default_level, 0.0, None, f"default: polar night {evening}")
    if night.program is None:
        return Wanted(pset.default_level, 0.0, None, f"default: no program for {evening}")
    ran = [s for s in night.switches if s.at <= at]
    if ran:
        s = ran[-1]
        return Wanted(s.level, s.ramp_s, s.at, f"program {night.program} {evening} {s.step}")
    before = plan(calendar, evening - dt.timedelta(days=1))
    if before.switches and before.sky is not Sky.POLAR_NIGHT:
        s = before.switches[-1]
        return Wanted(s.level, s.ramp_s, s.at, f"program {before.program} {before.evening} {s.step}")
    return Wanted(pset.default_level, 0.0, None, f"default: nothing ran since noon of {evening}")


def switches_between(
    pset: ProgramSet, device: str, start: dt.datetime, end: dt.datetime, place: Place
) -> list[Switch]:
    """Every switch point for ``device`` in ``[start, end)``, in time order (a scheduler's next steps)."""
    calendar = pset.calendar_of(device)
    if calendar is None:
        return []
    out: list[Switch] = []
    evening = evening_of(start, place)
    while True:
        night = plan_night(pset, calendar, evening, place)
        if night.start >= end:
            return out
        out += [s for s in night.switches if start <= s.at < end]
        evening += dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DuskToDawn:
    """The astronomical clock alone (no program): is it night at a moment, and when does that change."""

    night: bool
    until: dt.datetime | None  # the next sunset or sunrise after the moment (None: not this night)


def dusk_to_dawn(at: dt.datetime, place: Place) -> DuskToDawn:
    """Night from the night's sunset to the next sunrise, by the same solar events the programs use; all
    of a polar night, none of a polar day."""
    tz = place.tz
    evening = evening_of(at, place)
    end = local_noon(evening + dt.timedelta(days=1), tz)
    dusk, dawn = night_sun(place, evening)
    after_dusk = dusk.at <= at if dusk.at is not None else dusk.sky is Sky.POLAR_NIGHT
    before_dawn = at < dawn.at if dawn.at is not None else dawn.sky is Sky.POLAR_NIGHT
    changes = [t for t in (dusk.at, dawn.at, end) if t is not None and t > at]
    return DuskToDawn(after_dusk and before_dawn, min(changes, default=None))
