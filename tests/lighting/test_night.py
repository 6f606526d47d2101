"""A night's plan in time: fixed steps in the site's zone across both DST changes, solar steps from
astral checked against the agent's own NOAA clock, polar night and polar day, and the level wanted at
any moment (what a restarted gateway applies)."""

from __future__ import annotations

import datetime as dt

from edge_agent.commands.astro import Daylight, sun_times
from lighting.night import evening_of, plan_night, switches_between, wanted
from lighting.sun import Place, Sky
from tests.lighting.sets import DIJON, LONGYEARBYEN, program_set

UTC = dt.UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def by_step(evening: dt.date, place: Place = DIJON) -> dict[str, dt.datetime]:
    night = plan_night(program_set(), "streets", evening, place)
    return {s.step: s.at for s in night.switches}


def test_a_winter_night_in_dijon() -> None:
    evening = dt.date(2027, 1, 12)
    steps = by_step(evening)
    assert list(steps) == ["sunset", "22:00", "00:30", "sunrise+15min"]  # in time order
    assert steps["22:00"] == utc(2027, 1, 12, 21, 0)  # CET, UTC+1
    assert steps["00:30"] == utc(2027, 1, 12, 23, 30)  # the next morning's 00:30, local
    noaa_set = sun_times(DIJON.latitude, DIJON.longitude, evening).sunset_ms
    noaa_rise = sun_times(DIJON.latitude, DIJON.longitude, evening + dt.timedelta(days=1)).sunrise_ms
    assert noaa_set is not None
    assert noaa_rise is not None
    assert abs(steps["sunset"].timestamp() * 1000 - noaa_set) < 120_000  # two independent algorithms
    rise = steps["sunrise+15min"] - dt.timedelta(minutes=15)
    assert abs(rise.timestamp() * 1000 - noaa_rise) < 120_000
    assert utc(2027, 1, 12, 15, 30) < steps["sunset"] < utc(2027, 1, 12, 16, 30)


def test_spring_forward_a_step_in_the_gap_runs_at_the_next_minute() -> None:
    # Europe/Paris: 2027-03-28 02:00 CET -> 03:00 CEST. 02:30 does not exist that night.
    pset = program_set(programs={"p": {"steps": [{"at": "02:30", "level": 40}, {"at": "03:30", "level": 30},
                                                 {"at": "01:30", "level": 50}]}},
                       calendars={"streets": {"default_program": "p"}})  # fmt: skip
    night = plan_night(pset, "streets", dt.date(2027, 3, 27), DIJON)
    at = {s.step: s.at for s in night.switches}
    assert at["01:30"] == utc(2027, 3, 28, 0, 30)  # CET
    assert at["02:30"] == utc(2027, 3, 28, 1, 0)  # 03:00 CEST, the first minute that exists
    assert at["03:30"] == utc(2027, 3, 28, 1, 30)  # CEST
    assert [s.step for s in night.switches] == ["01:30", "02:30", "03:30"]
    # the night before and after: 02:30 is 02:30
    before = plan_night(pset, "streets", dt.date(2027, 3, 20), DIJON)
    assert {s.step: s.at for s in before.switches}["02:30"] == utc(2027, 3, 21, 1, 30)


def test_fall_back_a_step_in_the_repeated_hour_runs_once() -> None:
    # Europe/Paris: 2026-10-25 03:00 CEST -> 02:00 CET. 02:30 happens twice; the step runs at the first.
    pset = program_set(programs={"p": {"steps": [{"at": "02:30", "level": 40}, {"at": "04:00", "level": 0}]}},
                       calendars={"streets": {"default_program": "p"}})  # fmt: skip
    night = plan_night(pset, "streets", dt.date(2026, 10, 24), DIJON)
    assert [(s.step, s.at) for s in night.switches] == [
        ("02:30", utc(2026, 10, 25, 0, 30)),  # 02:30 CEST
        ("04:00", utc(2026, 10, 25, 3, 0)),  # 04:00 CET
    ]
    # wanted() across the repeated hour: 40 % from the first 02:30 on, not set again at the second
    second_0230 = utc(2026, 10, 25, 1, 30)
    w = wanted(pset, "lum-00", second_0230, DIJON)
    assert (w.level, w.since) == (40, utc(2026, 10, 25, 0, 30))
    assert len(switches_between(pset, "lum-00", utc(2026, 10, 24, 12), utc(2026, 10, 25, 12), DIJON)) == 2


def test_polar_night_runs_the_default_level_all_night() -> None:
    evening = dt.date(2026, 12, 21)
    assert sun_times(LONGYEARBYEN.latitude, LONGYEARBYEN.longitude, evening).daylight is Daylight.POLAR_NIGHT
    pset = program_set(default_level=70)
    night = plan_night(pset, "streets", evening, LONGYEARBYEN)
    assert (night.sky, night.switches) == (Sky.POLAR_NIGHT, ())
    for hour in (13, 18, 23):
        w = wanted(pset, "lum-00", utc(2026, 12, 21, hour), LONGYEARBYEN)
        assert (w.level, w.reason) == (70, "default: polar night 2026-12-21")


def test_polar_day_runs_no_astronomical_step_but_the_fixed_ones() -> None:
    evening = dt.date(2026, 6, 21)
    assert sun_times(LONGYEARBYEN.latitude, LONGYEARBYEN.longitude, evening).daylight is Daylight.POLAR_DAY
    night = plan_night(program_set(), "streets", evening, LONGYEARBYEN)
    assert night.sky is Sky.POLAR_DAY
    assert [s.step for s in night.switches] == ["22:00", "00:30"]
    assert night.skipped == ("sunset", "sunrise+15min")


def test_wanted_is_the_level_the_program_wants_now() -> None:
    pset = program_set()
    evening = dt.date(2027, 1, 12)
    steps = by_step(evening)
    assert wanted(pset, "lum-00", steps["sunset"] + dt.timedelta(minutes=1), DIJON).level == 100
    assert wanted(pset, "lum-00", utc(2027, 1, 12, 22, 59), DIJON).level == 80
    mid = wanted(pset, "lum-00", utc(2027, 1, 13, 2, 0), DIJON)  # a restart at 03:00 local
    assert (mid.level, mid.since) == (50, steps["00:30"])
    assert mid.reason == "program normal 2027-01-12 00:30"
    day = wanted(pset, "lum-00", utc(2027, 1, 13, 13, 0), DIJON)  # the next afternoon, before sunset
    assert (day.level, day.since) == (0, steps["sunrise+15min"])  # the previous night's last step holds
    assert wanted(pset, "lum-02", utc(2027, 1, 13, 2, 0), DIJON).reason == "default: no calendar"


def test_a_night_is_named_by_its_evening_and_runs_noon_to_noon() -> None:
    assert evening_of(utc(2027, 1, 12, 10, 59), DIJON) == dt.date(2027, 1, 11)  # 11:59 local
    assert evening_of(utc(2027, 1, 12, 11, 0), DIJON) == dt.date(2027, 1, 12)  # noon local
    assert evening_of(utc(2027, 1, 13, 3, 0), DIJON) == dt.date(2027, 1, 12)


def test_the_holiday_rule_changes_the_night_at_its_evening() -> None:
    pset = program_set()
    assert plan_night(pset, "streets", dt.date(2026, 12, 24), DIJON).program == "festive"
    # 00:30 on the 24th's morning belongs to the night of the 23rd: normal's 50 %
    assert wanted(pset, "lum-00", utc(2026, 12, 24, 0, 0), DIJON).level == 50
    # 00:30 on the 25th's morning belongs to Christmas Eve's night: festive's 100 % until 01:00
    assert wanted(pset, "lum-00", utc(2026, 12, 24, 23, 45), DIJON).level == 100
    assert wanted(pset, "lum-00", utc(2026, 12, 25, 0, 5), DIJON).level == 60


def test_switches_between_follow_the_nights_in_order() -> None:
    pset = program_set()
    week = switches_between(pset, "lum-00", utc(2027, 1, 11, 12), utc(2027, 1, 18, 12), DIJON)
    assert len(week) == 7 * 4
    assert [s.at for s in week] == sorted(s.at for s in week)
    assert switches_between(pset, "nobody", utc(2027, 1, 11, 12), utc(2027, 1, 18, 12), DIJON) == []
