"""A lighting program set, shaped after TALQ 2.7 (``shared/reference/control.md``): what the centre pushes
and the gateway runs. Validation names the field that is wrong, as the configs' does.

A set holds:

- ``programs``: each a list of steps. A step sets a ``level`` (0-100 % of light, TALQ ``DimLevel``) with a
  ``ramp_s``, at a fixed local time (``at: "23:00"``) or at a solar event with an offset
  (``at: sunset``, ``offset_min: -15``). A step lasts until the next one; before a night's first step the
  previous night's last one still holds.
- ``calendars``: ordered rules (the first that matches a night wins) choosing a program per night, and
  a ``default_program`` when no rule matches. A rule's conditions all hold for the night's *evening*:
  a date range (``from``/``to``, ``MM-DD`` every year or ``YYYY-MM-DD`` once; a ``MM-DD`` range may wrap
  the new year), weekdays (1 = Monday ... 7 = Sunday) and an ``occurrence`` of that weekday in the month
  (1-5 or ``last``: "the last Sunday").
- ``groups`` of devices and ``assign``: a calendar for devices and groups; a device has one calendar.
- ``default_level``: the level when nothing applies (TALQ ``defaultLightState``, 100 % unless set): no
  calendar for the device, a night no rule and no default program cover, a polar night.

A night runs from noon to noon and is named by its evening (:mod:`lighting.night`).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
Name = Annotated[str, Field(pattern=NAME)]
Level = Annotated[int, Field(ge=0, le=100, description="% of light (TALQ DimLevel)")]
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SolarEvent(enum.StrEnum):
    SUNSET = "sunset"
    SUNRISE = "sunrise"


class Step(_Model):
    """One switch point: ``at`` a local time ``"HH:MM"`` or a solar event (with ``offset_min``)."""

    at: str = Field(description='"HH:MM" local time (DST-aware), "sunset" or "sunrise"')
    offset_min: int = Field(default=0, ge=-240, le=240, description="minutes after the solar event")
    level: Level
    ramp_s: float = Field(default=0.0, ge=0, le=3600, description="TALQ rampToLevelTime")

    @field_validator("at")
    @classmethod
    def _at(cls, v: str) -> str:
        if v in (SolarEvent.SUNSET, SolarEvent.SUNRISE) or _CLOCK.match(v):
            return v
        raise ValueError(f'{v!r} is neither "HH:MM" (00:00-23:59) nor sunset/sunrise')

    @model_validator(mode="after")
    def _offset_only_for_the_sun(self) -> Self:
        if self.offset_min and self.clock_time is not None:
            raise ValueError(f"offset_min is for sunset/sunrise steps, not a fixed time ({self.at})")
        return self

    @property
    def solar_event(self) -> SolarEvent | None:
        return SolarEvent(self.at) if self.at in (SolarEvent.SUNSET, SolarEvent.SUNRISE) else None

    @property
    def clock_time(self) -> dt.time | None:
        m = _CLOCK.match(self.at)
        return dt.time(int(m.group(1)), int(m.group(2))) if m else None

    def describe(self) -> str:
        if self.solar_event is None:
            return self.at
        return f"{self.at}{self.offset_min:+d}min" if self.offset_min else self.at


class Program(_Model):
    steps: tuple[Step, ...] = Field(min_length=1, max_length=48)


def _date_bound(v: str) -> dt.date | tuple[int, int]:
    m = _MONTH_DAY.match(v)
    if m:
        month, day = int(m.group(1)), int(m.group(2))
        dt.date(2024, month, day)  # a leap year: 02-29 is a date some years
        return (month, day)
    return dt.date.fromisoformat(v)


class Rule(_Model):
    """Conditions on a night's evening; all given ones must hold. ``program`` runs when they do."""

    program: Name
    from_: str | None = Field(default=None, alias="from", description='"MM-DD" or "YYYY-MM-DD"')
    to: str | None = Field(default=None, description='"MM-DD" or "YYYY-MM-DD", inclusive')
    weekdays: tuple[Annotated[int, Field(ge=1, le=7)], ...] = Field(
        default=(), description="1 = Monday ... 7 = Sunday; empty: every day"
    )
    occurrence: Literal[1, 2, 3, 4, 5, "last"] | None = Field(
        default=None, description="which of the month's given weekdays: 1-5 or last"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("from_", "to")
    @classmethod
    def _bound(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                _date_bound(v)
            except ValueError as exc:
                raise ValueError(f'{v!r} is neither "MM-DD" nor "YYYY-MM-DD" ({exc})') from None
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.from_ is None) != (self.to is None):
            raise ValueError("a date range needs both from and to")
        if self.from_ is not None and self.to is not None:
            lo, hi = _date_bound(self.from_), _date_bound(self.to)
            if type(lo) is not type(hi):
                raise ValueError("from and to are both MM-DD or both YYYY-MM-DD")
            if isinstance(lo, dt.date) and isinstance(hi, dt.date) and hi < lo:
                raise ValueError(f"to ({self.to}) is before from ({self.from_})")
        if self.occurrence is not None and not self.weekdays:
            raise ValueError("occurrence needs weekdays (the last Sunday: weekdays [7], occurrence last)")
        return self

    def bounds(self) -> tuple[dt.date | tuple[int, int], dt.date | tuple[int, int]] | None:
        if self.from_ is None or self.to is None:
            return None
        return _date_bound(self.from_), _date_bound(self.to)


class Calendar(_Model):
    rules: tuple[Rule, ...] = Field(default=(), max_length=64)
    default_program: Name | None = None


class Assignment(_Model):
    calendar: Name
    groups: tuple[Name, ...] = ()
    devices: tuple[Name, ...] = ()

    @model_validator(mode="after")
    def _someone(self) -> Self:
        if not self.groups and not self.devices:
            raise ValueError("an assignment names groups or devices")
        return self


class ProgramSet(_Model):
    """What the centre pushes and a gateway runs, whole: a set is valid or refused as one."""

    version: int = Field(ge=1, description="grows with every push; a gateway refuses an older one")
    default_level: Level = 100
    programs: dict[Name, Program] = Field(min_length=1)
    calendars: dict[Name, Calendar] = Field(min_length=1)
    groups: dict[Name, tuple[Name, ...]] = Field(default_factory=dict)
    assign: tuple[Assignment, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> Self:
        problems: list[str] = []
        for cname, cal in self.calendars.items():
            named = [(f"calendars.{cname}.rules.{i}.program", r.program) for i, r in enumerate(cal.rules)]
            if cal.default_program is not None:
                named.append((f"calendars.{cname}.default_program", cal.default_program))
            problems += [f"{where}: no program {p!r}" for where, p in named if p not in self.programs]
        owner: dict[str, str] = {}
        for i, a in enumerate(self.assign):
            if a.calendar not in self.calendars:
                problems.append(f"assign.{i}.calendar: no calendar {a.calendar!r}")
            devices = list(a.devices)
            for g in a.groups:
                if g not in self.groups:
                    problems.append(f"assign.{i}.groups: no group {g!r}")
                devices += self.groups.get(g, ())
            for d in devices:
                if owner.setdefault(d, a.calendar) != a.calendar:
                    problems.append(f"assign.{i}: device {d!r} has two calendars ({owner[d]}, {a.calendar})")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def calendar_of(self, device: str) -> str | None:
        """The calendar assigned to ``device`` (directly or through a group), or None."""
        for a in self.assign:
            if device in a.devices or any(device in self.groups.get(g, ()) for g in a.groups):
                return a.calendar
        return None

    def devices(self) -> set[str]:
        return {d for a in self.assign for d in (*a.devices, *(x for g in a.groups for x in self.groups[g]))}
