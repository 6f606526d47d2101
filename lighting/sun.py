"""Sunset and sunrise for a night, from the gateway's latitude and longitude (astral), and what the sky
does when one of them does not happen: a polar night (the sun stays below the horizon) or a polar day
(it stays above)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from astral import Observer
from astral.sun import elevation, sunrise, sunset

from lighting.model import SolarEvent


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone, else ValueError saying so (for the configs' validators)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Europe/Paris)") from None
    return name


@dataclass(frozen=True, slots=True)
class Place:
    """Where the cabinet stands and the IANA time zone its fixed-time steps are read in."""

    latitude: float
    longitude: float
    timezone: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def observer(self) -> Observer:
        return Observer(latitude=self.latitude, longitude=self.longitude)


class Sky(enum.StrEnum):
    NORMAL = "normal"
    POLAR_NIGHT = "polar_night"  # no sunset or sunrise because the sun stays below the horizon
    POLAR_DAY = "polar_day"  # ... because it stays above


@dataclass(frozen=True, slots=True)
class Sun:
    """A night's solar event, or why there is none."""

    at: dt.datetime | None  # aware, UTC
    sky: Sky


def solar_event(place: Place, event: SolarEvent, start: dt.datetime, end: dt.datetime) -> Sun:
    """The ``event`` between ``start`` and ``end`` (a night: noon to noon, aware): the first sunset or the
    last sunrise in it. None with the sky that explains it when there is none."""
    evening = start.astimezone(place.tz).date()
    found: list[dt.datetime] = []
    for day in (evening - dt.timedelta(days=1), evening, evening + dt.timedelta(days=1)):
        try:
            at = (sunset if event is SolarEvent.SUNSET else sunrise)(place.observer, day, tzinfo=place.tz)
        except ValueError:  # astral: the sun is always above or below the horizon on that day
            continue
        if start <= at < end:
            found.append(at.astimezone(dt.UTC))
    if found:
        return Sun(min(found) if event is SolarEvent.SUNSET else max(found), Sky.NORMAL)
    # None in the night: the sun never crossed the horizon, so its height at any moment says which way.
    probe = start if event is SolarEvent.SUNSET else end
    up = elevation(place.observer, probe) > 0
    return Sun(None, Sky.POLAR_DAY if up else Sky.POLAR_NIGHT)
