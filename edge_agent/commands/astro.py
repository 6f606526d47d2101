"""The astronomical clock: sunrise and sunset for a place and a UTC date, and whether it is night at an
instant. Pure arithmetic, no I/O, no dependency.

The NOAA solar-position equations (the NOAA Global Monitoring Laboratory's solar calculator, after Meeus,
*Astronomical Algorithms*): the sun's declination and the equation of time from the Julian century,
then the hour angle at which the sun's centre is at the **official zenith 90.833°** — the upper limb on
the horizon, with standard refraction. Each event is computed twice, the second time with the sun's
position at the first estimate, which brings it within about a minute of the almanac at mid latitudes.

Polar day and polar night have no sunrise or sunset: :func:`sun_times` says which (``Daylight``), and
:func:`is_night` simply asks whether the sun is below the 90.833° zenith at that instant, which needs no
special case. Longitudes are east-positive, latitudes north-positive, in degrees.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass

ZENITH_OFFICIAL = 90.833  # degrees: sunrise/sunset as almanacs give them
_MS_PER_DAY = 86_400_000
_J2000_MS = 946_728_000_000  # 2000-01-01T12:00:00Z, Julian day 2451545.0


class Daylight(enum.StrEnum):
    NORMAL = "normal"  # the sun rises and sets
    POLAR_DAY = "polar_day"  # the sun stays above the horizon all day (midnight sun)
    POLAR_NIGHT = "polar_night"  # the sun stays below the horizon all day


@dataclass(frozen=True, slots=True)
class SunTimes:
    """The day's events in UTC milliseconds; both None unless ``daylight`` is NORMAL."""

    daylight: Daylight
    sunrise_ms: int | None
    sunset_ms: int | None
    noon_ms: int  # solar noon


@dataclass(frozen=True, slots=True)
class _Sun:
    declination: float  # degrees
    equation_of_time: float  # minutes: apparent minus mean solar time


def _sun(ts_ms: float) -> _Sun:
    """The sun's declination and the equation of time at an instant (NOAA)."""
    t = (ts_ms - _J2000_MS) / _MS_PER_DAY / 36525.0  # Julian centuries since J2000.0
    l0 = (280.46646 + t * (36000.76983 + t * 0.0003032)) % 360
    m = 357.52911 + t * (35999.05029 - 0.0001537 * t)
    e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    mr = math.radians(m)
    centre = (
        math.sin(mr) * (1.914602 - t * (0.004817 + 0.000014 * t))
        + math.sin(2 * mr) * (0.019993 - 0.000101 * t)
        + math.sin(3 * mr) * 0.000289
    )
    omega = math.radians(125.04 - 1934.136 * t)
    apparent = math.radians(l0 + centre - 0.00569 - 0.00478 * math.sin(omega))
    mean_obliquity = 23 + (26 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60) / 60
    obliquity = math.radians(mean_obliquity + 0.00256 * math.cos(omega))
    declination = math.degrees(math.asin(math.sin(obliquity) * math.sin(apparent)))
    y = math.tan(obliquity / 2) ** 2
    l0r = math.radians(l0)
    eot = (
        y * math.sin(2 * l0r)
        - 2 * e * math.sin(mr)
        + 4 * e * y * math.sin(mr) * math.cos(2 * l0r)
        - 0.5 * y * y * math.sin(4 * l0r)
        - 1.25 * e * e * math.sin(2 * mr)
    )
    return _Sun(declination, 4 * math.degrees(eot))


def _check(lat: float, lon: float) -> None:
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise ValueError(f"latitude must be -90..90 and longitude -180..180, got {lat}, {lon}")


def _hour_angle(lat: float, declination: float, zenith: float) -> float | None:
    """Degrees from solar noon to the sun at ``zenith``; None when it never gets there (polar)."""
    la, d = math.radians(lat), math.radians(declination)
    cos_h = (math.cos(math.radians(zenith)) - math.sin(la) * math.sin(d)) / (math.cos(la) * math.cos(d))
    if not -1 <= cos_h <= 1:
        return None
    return math.degrees(math.acos(cos_h))


def sun_times(lat: float, lon: float, date: dt.date, zenith: float = ZENITH_OFFICIAL) -> SunTimes:
    """Sunrise, solar noon and sunset around the solar noon of ``date`` (a UTC date) at ``lat``/``lon``.
    Far from Greenwich an event may fall on the previous or next UTC date; it is still this solar day's."""
    _check(lat, lon)
    if abs(lat) == 90:
        lat = math.copysign(89.9999, lat)  # the hour angle is undefined at a pole; the answer is not
    midnight = int(dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp() * 1000)
    noon = midnight + 60_000 * (720 - 4 * lon)
    noon = midnight + 60_000 * (720 - 4 * lon - _sun(noon).equation_of_time)
    sun = _sun(noon)
    ha = _hour_angle(lat, sun.declination, zenith)
    if ha is None:  # is the sun above the zenith at noon (midnight sun) or not (polar night)?
        above = 90 - abs(lat - sun.declination) > 90 - zenith
        return SunTimes(Daylight.POLAR_DAY if above else Daylight.POLAR_NIGHT, None, None, round(noon))
    events = []
    for sign in (-1, 1):  # sunrise, then sunset: again with the sun where it is at the first estimate
        estimate = noon + sign * 4 * ha * 60_000
        sun_then = _sun(estimate)
        ha_then = _hour_angle(lat, sun_then.declination, zenith)
        if ha_then is None:  # the edge of a polar season: keep the first estimate
            events.append(round(estimate))
            continue
        noon_then = midnight + 60_000 * (720 - 4 * lon - sun_then.equation_of_time)
        events.append(round(noon_then + sign * 4 * ha_then * 60_000))
    return SunTimes(Daylight.NORMAL, events[0], events[1], round(noon))


def solar_elevation(lat: float, lon: float, ts_ms: int) -> float:
    """The sun's geometric elevation in degrees at ``ts_ms`` (UTC ms), without refraction."""
    _check(lat, lon)
    sun = _sun(ts_ms)
    minutes = (ts_ms % _MS_PER_DAY) / 60_000  # UTC minutes of the day
    true_solar = (minutes + sun.equation_of_time + 4 * lon) % 1440
    hour_angle = math.radians(true_solar / 4 - 180)
    la, d = math.radians(lat), math.radians(sun.declination)
    cos_zenith = math.sin(la) * math.sin(d) + math.cos(la) * math.cos(d) * math.cos(hour_angle)
    return 90 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def is_night(lat: float, lon: float, ts_ms: int, zenith: float = ZENITH_OFFICIAL) -> bool:
    """True between sunset and sunrise: the sun's centre below ``zenith`` (polar night: all day; midnight
    sun: never)."""
    return solar_elevation(lat, lon, ts_ms) < 90 - zenith
