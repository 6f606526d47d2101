"""Local wall-clock times to instants, on the nights a DST change makes some times odd: a time that does
not exist (spring forward) is taken at the next minute that does; a time that occurs twice (fall back)
is taken once, at its first occurrence."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

_LONGEST_GAP_MIN = 24 * 60  # a zone's gap is an hour or two; a day bounds the search


def exists(wall: dt.datetime, tz: ZoneInfo) -> bool:
    local = wall.replace(tzinfo=tz, fold=0)
    return local.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) == wall


def wall_to_utc(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The instant (aware, UTC) of ``time`` on ``day`` in ``tz``, by the rules above."""
    wall = dt.datetime.combine(day, time)
    for minute in range(_LONGEST_GAP_MIN):
        candidate = wall + dt.timedelta(minutes=minute)
        if exists(candidate, tz):
            return candidate.replace(tzinfo=tz, fold=0).astimezone(dt.UTC)
    raise ValueError(f"no wall-clock time at or after {wall} exists in {tz.key}")


def local_noon(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """Noon on ``day`` (no zone changes its clocks at noon; ``wall_to_utc`` copes if one did)."""
    return wall_to_utc(day, dt.time(12), tz)
