"""A whole night in simulated time with the centre unreachable (:mod:`tests.edge_agent.lighting_street`):
what the luminaire simulator reports after each of the runner's commands is compared with the program
written out by hand, its solar steps timed by the agent's NOAA clock (not astral, which the runner uses).
Also: both DST nights, a holiday rule, a polar night and a polar day at Longyearbyen, and a restart in
the middle of the night."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.edge_agent.lighting_street import Street, local, matches, noaa, street_at
from tests.lighting.sets import DIJON, LONGYEARBYEN, program_set

UTC = dt.UTC


@pytest.fixture
async def street(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Street]:
    start, place = request.param
    async with street_at(start, place, tmp_path) as s:
        yield s


JAN_12 = dt.date(2027, 1, 12)


@pytest.mark.parametrize("street", [(local(DIJON, JAN_12, 12, 0), DIJON)], indirect=True)
async def test_a_whole_night_offline_follows_the_program_and_a_restart_lands_on_now(street: Street) -> None:
    morning = JAN_12 + dt.timedelta(days=1)
    await street.run_until(street.runner(program_set()), local(DIJON, morning, 12, 0))
    matches(
        street.seen,
        [
            (local(DIJON, JAN_12, 12, 0), 0),  # noon: the previous night's last step (off after sunrise)
            (noaa(DIJON, JAN_12, "sunset"), 100),
            (local(DIJON, JAN_12, 22, 0), 80),
            (local(DIJON, morning, 0, 30), 50),
            (noaa(DIJON, morning, "sunrise") + dt.timedelta(minutes=15), 0),
        ],
    )
    # A restart at 03:00 the next night: the level the program wants now (50 %), not the missed steps.
    street.seen.clear()
    street.lamps.luminaire(0).set_percent(100)  # what a power cycle would leave on the gear
    street.clock.t += (
        local(DIJON, morning + dt.timedelta(days=1), 3, 0) - street.clock.now()
    ).total_seconds()
    restarted = street.runner(program_set())
    await restarted.evaluate()
    ((_, level),) = street.seen
    assert abs(level - 50) <= 1  # within the curve's rounding


SPRING, AUTUMN = dt.date(2027, 3, 27), dt.date(2026, 10, 24)  # the evenings before both DST changes
DST_SET = program_set(
    programs={"p": {"steps": [{"at": "20:00", "level": 90}, {"at": "02:30", "level": 40},
                              {"at": "03:30", "level": 30}, {"at": "09:00", "level": 0}]}},
    calendars={"streets": {"default_program": "p"}},
)  # fmt: skip


@pytest.mark.parametrize("street", [(local(DIJON, SPRING, 12, 0), DIJON)], indirect=True)
async def test_spring_forward_night(street: Street) -> None:
    sunday = SPRING + dt.timedelta(days=1)
    await street.run_until(street.runner(DST_SET), local(DIJON, sunday, 12, 0))
    matches(
        street.seen,
        [
            (local(DIJON, SPRING, 12, 0), 0),
            (dt.datetime(2027, 3, 27, 19, 0, tzinfo=UTC), 90),  # 20:00 CET
            (dt.datetime(2027, 3, 28, 1, 0, tzinfo=UTC), 40),  # 02:30 does not exist: 03:00 CEST
            (dt.datetime(2027, 3, 28, 1, 30, tzinfo=UTC), 30),  # 03:30 CEST
            (dt.datetime(2027, 3, 28, 7, 0, tzinfo=UTC), 0),  # 09:00 CEST
        ],
    )


@pytest.mark.parametrize("street", [(local(DIJON, AUTUMN, 12, 0), DIJON)], indirect=True)
async def test_fall_back_night_runs_the_repeated_step_once(street: Street) -> None:
    sunday = AUTUMN + dt.timedelta(days=1)
    await street.run_until(street.runner(DST_SET), local(DIJON, sunday, 12, 0))
    matches(
        street.seen,
        [
            (local(DIJON, AUTUMN, 12, 0), 0),
            (dt.datetime(2026, 10, 24, 18, 0, tzinfo=UTC), 90),  # 20:00 CEST
            (dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC), 40),  # the first 02:30 (CEST), not the second
            (dt.datetime(2026, 10, 25, 2, 30, tzinfo=UTC), 30),  # 03:30 CET
            (dt.datetime(2026, 10, 25, 8, 0, tzinfo=UTC), 0),  # 09:00 CET
        ],
    )


XMAS = dt.date(2026, 12, 24)


@pytest.mark.parametrize("street", [(local(DIJON, XMAS, 12, 0), DIJON)], indirect=True)
async def test_the_holiday_rule_runs_the_festive_program(street: Street) -> None:
    morning = XMAS + dt.timedelta(days=1)
    await street.run_until(street.runner(program_set()), local(DIJON, morning, 12, 0))
    matches(
        street.seen,
        [
            (local(DIJON, XMAS, 12, 0), 0),
            (noaa(DIJON, XMAS, "sunset") - dt.timedelta(minutes=10), 100),
            (local(DIJON, morning, 1, 0), 60),
            (noaa(DIJON, morning, "sunrise"), 0),
        ],
    )


POLAR_NIGHT, POLAR_DAY = dt.date(2026, 12, 21), dt.date(2026, 6, 21)


@pytest.mark.parametrize("street", [(local(LONGYEARBYEN, POLAR_NIGHT, 12, 0), LONGYEARBYEN)], indirect=True)
async def test_a_polar_night_runs_the_default_level(street: Street) -> None:
    morning = POLAR_NIGHT + dt.timedelta(days=1)
    await street.run_until(street.runner(program_set(default_level=70)), local(LONGYEARBYEN, morning, 12, 0))
    matches(street.seen, [(local(LONGYEARBYEN, POLAR_NIGHT, 12, 0), 70)])


@pytest.mark.parametrize("street", [(local(LONGYEARBYEN, POLAR_DAY, 12, 0), LONGYEARBYEN)], indirect=True)
async def test_a_polar_day_runs_only_the_fixed_steps(street: Street) -> None:
    morning = POLAR_DAY + dt.timedelta(days=1)
    await street.run_until(street.runner(program_set()), local(LONGYEARBYEN, morning, 12, 0))
    matches(
        street.seen,
        [
            # noon: the night before's last fixed step (its sunrise step did not run either)
            (local(LONGYEARBYEN, POLAR_DAY, 12, 0), 50),
            (local(LONGYEARBYEN, POLAR_DAY, 22, 0), 80),
            (local(LONGYEARBYEN, morning, 0, 30), 50),
        ],
    )
