"""Which program a night runs: ordered rules, the first that matches the evening wins; dates that
wrap the new year; weekday occurrences such as "the last Sunday"; the calendar's default program."""

from __future__ import annotations

import datetime as dt

import pytest

from lighting.calendar import occurrence_in_month, program_for
from lighting.model import Calendar, Rule
from tests.lighting.sets import program_set


def cal() -> Calendar:
    return program_set().calendars["streets"]


@pytest.mark.parametrize(
    ("evening", "program"),
    [
        (dt.date(2026, 12, 23), "normal"),  # a Wednesday before Christmas
        (dt.date(2026, 12, 24), "festive"),  # the range's first day ...
        (dt.date(2026, 12, 26), "festive"),  # ... and its last, inclusive
        (dt.date(2026, 12, 27), "festive"),  # the last Sunday of December 2026
        (dt.date(2026, 12, 20), "normal"),  # a Sunday, not the last
        (dt.date(2027, 2, 28), "festive"),  # last Sunday of February 2027 (28 days)
        (dt.date(2027, 2, 21), "normal"),
    ],
)
def test_the_first_matching_rule_names_the_program(evening: dt.date, program: str) -> None:
    assert program_for(cal(), evening) == program


def test_rule_order_is_priority() -> None:
    sunday = Rule(program="sunday", weekdays=(7,))
    xmas = Rule.model_validate({"program": "xmas", "from": "12-25", "to": "12-25"})
    assert program_for(Calendar(rules=(sunday, xmas)), dt.date(2022, 12, 25)) == "sunday"
    assert program_for(Calendar(rules=(xmas, sunday)), dt.date(2022, 12, 25)) == "xmas"


def test_a_month_day_range_wraps_the_new_year_and_a_dated_one_does_not_repeat() -> None:
    winter = Rule.model_validate({"program": "w", "from": "12-20", "to": "01-05"})
    once = Rule.model_validate({"program": "o", "from": "2026-12-20", "to": "2027-01-05"})
    c_w, c_o = Calendar(rules=(winter,)), Calendar(rules=(once,))
    for day, inside in [(dt.date(2026, 12, 19), False), (dt.date(2026, 12, 31), True),
                        (dt.date(2027, 1, 5), True), (dt.date(2027, 1, 6), False)]:  # fmt: skip
        assert (program_for(c_w, day) == "w") is inside, day
        assert (program_for(c_o, day) == "o") is inside, day
    assert program_for(c_w, dt.date(2030, 1, 1)) == "w"
    assert program_for(c_o, dt.date(2030, 1, 1)) is None  # no rule, no default program


@pytest.mark.parametrize(
    ("day", "nth", "last"),
    [(dt.date(2026, 12, 1), 1, False), (dt.date(2026, 12, 27), 4, True), (dt.date(2026, 12, 31), 5, True),
     (dt.date(2026, 12, 24), 4, False), (dt.date(2026, 11, 30), 5, True)],
)  # fmt: skip
def test_occurrence_in_month(day: dt.date, nth: int, last: bool) -> None:
    assert occurrence_in_month(day) == (nth, last)


def test_the_second_tuesday() -> None:
    rule = Rule(program="market", weekdays=(2,), occurrence=2)
    tuesdays = [dt.date(2026, 12, d) for d in (1, 8, 15, 22, 29)]
    assert [program_for(Calendar(rules=(rule,)), t) for t in tuesdays] == [None, "market", None, None, None]
