"""Which program a calendar runs on a night: its rules in order, the first whose conditions all hold for
the night's evening wins; else the calendar's default program; else none (the default level)."""

from __future__ import annotations

import calendar as _stdlib_calendar
import datetime as dt

from lighting.model import Calendar, Rule


def occurrence_in_month(day: dt.date) -> tuple[int, bool]:
    """Which of the month's weekdays ``day`` is (1 for the first Sunday ...), and whether it is the last."""
    nth = (day.day - 1) // 7 + 1
    last_day = _stdlib_calendar.monthrange(day.year, day.month)[1]
    return nth, day.day + 7 > last_day


def in_range(rule: Rule, day: dt.date) -> bool:
    bounds = rule.bounds()
    if bounds is None:
        return True
    lo, hi = bounds
    if isinstance(lo, dt.date) and isinstance(hi, dt.date):
        return lo <= day <= hi
    assert isinstance(lo, tuple)
    assert isinstance(hi, tuple)
    md = (day.month, day.day)
    return lo <= md <= hi if lo <= hi else (md >= lo or md <= hi)  # 12-20 .. 01-05 wraps the new year


def matches(rule: Rule, evening: dt.date) -> bool:
    if not in_range(rule, evening):
        return False
    if rule.weekdays and evening.isoweekday() not in rule.weekdays:
        return False
    if rule.occurrence is not None:
        nth, last = occurrence_in_month(evening)
        return last if rule.occurrence == "last" else nth == rule.occurrence
    return True


def program_for(cal: Calendar, evening: dt.date) -> str | None:
    """The program ``cal`` runs on the night of ``evening``, or None (nothing applies)."""
    for rule in cal.rules:
        if matches(rule, evening):
            return rule.program
    return cal.default_program
