"""The lighting tests' street (:mod:`harness.lighting_night`) and what the tests compare it with."""

from __future__ import annotations

import datetime as dt

from edge_agent.commands import astro
from harness.lighting_night import NightClock, Street, street_at
from lighting.sun import Place

__all__ = ["NightClock", "Street", "local", "matches", "noaa", "street_at"]

UTC = dt.UTC


def noaa(place: Place, day: dt.date, event: str) -> dt.datetime:
    times = astro.sun_times(place.latitude, place.longitude, day)
    ms = times.sunset_ms if event == "sunset" else times.sunrise_ms
    assert ms is not None
    return dt.datetime.fromtimestamp(ms / 1000, UTC)


def local(place: Place, day: dt.date, hh: int, mm: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=place.tz).astimezone(UTC)


def matches(seen: list[tuple[dt.datetime, int]], expected: list[tuple[dt.datetime, int]]) -> None:
    """The same levels in the same order (within 1 %: the gear's arc levels round the dimming curve),
    each within two minutes of its time (two sun algorithms)."""
    assert len(seen) == len(expected), (seen, expected)
    for (t, lvl), (want_t, want) in zip(seen, expected, strict=True):
        assert abs(lvl - want) <= 1, (seen, expected)
        assert abs((t - want_t).total_seconds()) <= 120, f"{lvl} % at {t}, the program says {want_t}"
