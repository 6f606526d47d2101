"""The astronomical clock (edge_agent/commands/astro.py): sunrise and sunset against known values, polar
day and night, and is_night on both sides of the events."""

from __future__ import annotations

import datetime as dt

import pytest

from edge_agent.commands.astro import Daylight, is_night, solar_elevation, sun_times

DIJON = (47.32, 5.04)
MIN = 60_000


def utc(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)


def near(ms: int | None, text: str, minutes: float) -> bool:
    assert ms is not None
    return abs(ms - utc(text)) <= minutes * MIN


def test_equinox_at_the_equator_is_six_to_six_local_solar_time() -> None:
    # at longitude 0 local solar time is UTC shifted by the equation of time (-7.5 min on 20 March)
    t = sun_times(0.0, 0.0, dt.date(2026, 3, 20))
    assert t.daylight is Daylight.NORMAL
    assert t.noon_ms is not None
    assert near(t.noon_ms, "2026-03-20T12:07:30", 1)
    assert t.sunrise_ms is not None
    assert t.sunset_ms is not None
    solar = [(x - t.noon_ms + 12 * 60 * MIN) for x in (t.sunrise_ms, t.sunset_ms)]  # ms since local midnight
    assert abs(solar[0] - 6 * 60 * MIN) <= 5 * MIN  # 05:57 (refraction and the sun's radius: a bit early)
    assert abs(solar[1] - 18 * 60 * MIN) <= 5 * MIN
    # the day is longer than 12 h by the 0.833° below the horizon at both ends: about 7 minutes
    assert 12 * 60 * MIN < t.sunset_ms - t.sunrise_ms < (12 * 60 + 10) * MIN


def test_equinox_at_the_equator_shifts_with_longitude() -> None:
    east = sun_times(0.0, 90.0, dt.date(2026, 3, 20))
    west = sun_times(0.0, 0.0, dt.date(2026, 3, 20))
    assert east.sunrise_ms is not None
    assert west.sunrise_ms is not None
    assert abs((west.sunrise_ms - east.sunrise_ms) - 6 * 60 * MIN) <= 1 * MIN  # 90° = 6 h


def test_dijon_midsummer() -> None:
    # Dijon, 21 June 2026: sunrise 05:43 and sunset 21:40 CEST (UTC+2), a day of 15 h 57 min
    # (cos H = (cos 90.833° − sin 47.32° sin 23.44°) / (cos 47.32° cos 23.44°), H = 119.6°)
    t = sun_times(*DIJON, dt.date(2026, 6, 21))
    assert t.daylight is Daylight.NORMAL
    assert near(t.sunrise_ms, "2026-06-21T03:43", 4)
    assert near(t.sunset_ms, "2026-06-21T19:40", 4)
    assert near(t.noon_ms, "2026-06-21T11:42", 2)


def test_dijon_midwinter() -> None:
    # 21 December 2026: sunrise 08:24 and sunset 16:52 CET (UTC+1)
    t = sun_times(*DIJON, dt.date(2026, 12, 21))
    assert near(t.sunrise_ms, "2026-12-21T07:24", 4)
    assert near(t.sunset_ms, "2026-12-21T15:52", 4)


def test_polar_night_at_78_north_in_december() -> None:
    t = sun_times(78.0, 15.6, dt.date(2026, 12, 21))  # Longyearbyen
    assert t.daylight is Daylight.POLAR_NIGHT
    assert (t.sunrise_ms, t.sunset_ms) == (None, None)
    for hour in range(24):
        assert is_night(78.0, 15.6, utc(f"2026-12-21T{hour:02d}:00"))


def test_midnight_sun_at_78_north_in_june() -> None:
    t = sun_times(78.0, 15.6, dt.date(2026, 6, 21))
    assert t.daylight is Daylight.POLAR_DAY
    assert (t.sunrise_ms, t.sunset_ms) == (None, None)
    for hour in range(24):
        assert not is_night(78.0, 15.6, utc(f"2026-06-21T{hour:02d}:00"))


def test_the_southern_hemisphere_has_its_polar_night_in_june() -> None:
    assert sun_times(-78.0, 166.7, dt.date(2026, 6, 21)).daylight is Daylight.POLAR_NIGHT
    assert sun_times(-78.0, 166.7, dt.date(2026, 12, 21)).daylight is Daylight.POLAR_DAY


def test_is_night_turns_at_sunrise_and_sunset() -> None:
    t = sun_times(*DIJON, dt.date(2026, 6, 21))
    assert t.sunrise_ms is not None
    assert t.sunset_ms is not None
    assert is_night(*DIJON, t.sunrise_ms - 2 * MIN)
    assert not is_night(*DIJON, t.sunrise_ms + 2 * MIN)
    assert not is_night(*DIJON, t.noon_ms)
    assert not is_night(*DIJON, t.sunset_ms - 2 * MIN)
    assert is_night(*DIJON, t.sunset_ms + 2 * MIN)
    assert is_night(*DIJON, utc("2026-06-21T23:30"))


def test_the_noon_sun_at_dijon_on_the_solstice_is_at_its_highest() -> None:
    # 90 − 47.32 + 23.44 = 66.1°
    t = sun_times(*DIJON, dt.date(2026, 6, 21))
    assert solar_elevation(*DIJON, t.noon_ms) == pytest.approx(66.1, abs=0.1)


def test_a_place_off_the_globe_is_refused() -> None:
    with pytest.raises(ValueError, match="latitude"):
        sun_times(91.0, 0.0, dt.date(2026, 1, 1))
    with pytest.raises(ValueError, match="longitude"):
        is_night(0.0, 181.0, utc("2026-01-01T00:00"))


def test_is_night_agrees_with_sun_times_when_the_equation_of_time_is_largest() -> None:
    # early November the sun runs 16 minutes ahead of the clock: both must carry it
    t = sun_times(*DIJON, dt.date(2026, 11, 3))
    assert t.sunrise_ms is not None
    assert t.sunset_ms is not None
    assert near(t.noon_ms, "2026-11-03T11:23:30", 1)
    for event in (t.sunrise_ms, t.sunset_ms):
        assert is_night(*DIJON, event - MIN) != is_night(*DIJON, event + MIN)
