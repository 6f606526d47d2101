"""The lighting runner's other duties on the simulated street (:mod:`tests.edge_agent.lighting_street`):
overrides (start, expiry back to the program, a newer one replaces the older, cancel), the default
dusk to dawn without a program set, the default level without a trusted clock, and a level the gear did
not confirm tried again after ``retry_s``, not before."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from edge_agent.clock import ManualClock
from edge_agent.lighting.overrides import Override
from edge_agent.lighting.runner import LightingRunner, Order
from simulators.luminaire.model import Fault
from tests.edge_agent.lighting_street import local, matches, noaa, street_at
from tests.lighting.sets import DIJON, program_set

JAN_12 = dt.date(2027, 1, 12)
MORNING = JAN_12 + dt.timedelta(days=1)


def override(oid: str, level: int, start: dt.datetime, minutes: int, issued: int) -> Override:
    return Override(oid, frozenset({"lum-00"}), level, start, start + dt.timedelta(minutes=minutes), issued)


async def test_an_override_runs_from_start_to_expiry_then_the_program_again(tmp_path: Path) -> None:
    async with street_at(local(DIJON, JAN_12, 22, 30), DIJON, tmp_path) as street:
        runner = street.runner(program_set())
        runner.override(override("o-1", 30, local(DIJON, JAN_12, 23, 0), 45, issued=1))
        await street.run_until(runner, local(DIJON, MORNING, 1, 0))
        matches(
            street.seen,
            [
                (local(DIJON, JAN_12, 22, 30), 80),  # the program
                (local(DIJON, JAN_12, 23, 0), 30),  # the override starts
                (local(DIJON, JAN_12, 23, 45), 80),  # and expires: the program again, by itself
                (local(DIJON, MORNING, 0, 30), 50),
            ],
        )
        assert runner.overrides.all() == []


async def test_a_newer_override_replaces_the_older_and_cancel_returns_at_once(tmp_path: Path) -> None:
    async with street_at(local(DIJON, JAN_12, 22, 30), DIJON, tmp_path) as street:
        runner = street.runner(program_set())
        runner.override(override("o-1", 30, local(DIJON, JAN_12, 22, 30), 180, issued=1))
        runner.override(override("o-0", 90, local(DIJON, JAN_12, 22, 30), 180, issued=0))  # older: ignored
        await runner.evaluate()
        runner.override(override("o-2", 60, local(DIJON, JAN_12, 22, 30), 20, issued=2))
        await runner.evaluate()
        street.clock.t += 25 * 60  # o-2 expired; o-1 was replaced, not resumed
        await runner.evaluate()
        runner.override(override("o-3", 40, street.clock.now(), 120, issued=3))
        await runner.evaluate()
        assert runner.cancel("o-3") == ["lum-00"]
        await runner.evaluate()  # at once, not at o-3's expiry
        assert [lvl for _, lvl in street.seen] == [30, 60, 80, 40, 80]


async def test_without_a_program_set_the_default_level_dusk_to_dawn(tmp_path: Path) -> None:
    async with street_at(local(DIJON, JAN_12, 12, 0), DIJON, tmp_path) as street:
        await street.run_until(street.runner(None, default_level=90), local(DIJON, MORNING, 12, 0))
        matches(
            street.seen,
            [
                (local(DIJON, JAN_12, 12, 0), 0),
                (noaa(DIJON, JAN_12, "sunset"), 90),
                (noaa(DIJON, MORNING, "sunrise"), 0),
            ],
        )


async def test_without_a_trusted_clock_the_default_level_day_and_night(tmp_path: Path) -> None:
    async with street_at(local(DIJON, JAN_12, 12, 0), DIJON, tmp_path) as street:
        never_synchronised = street.runner(program_set(default_level=100), clock_trusted=False)
        await never_synchronised.evaluate()
        assert street.seen[-1][1] == 100
        runner = street.runner(program_set())
        await runner.evaluate()  # a trusted clock, by day: off
        assert street.seen[-1][1] == 0
        street.clock.wall0_ms += 6 * 3600 * 1000  # the wall clock steps 6 h: beyond the tolerance
        await runner.evaluate()
        assert (runner.clock_trusted, street.seen[-1][1]) == (False, 100)
        runner.clock_synchronised()
        await runner.evaluate()  # 18:00 local now: after sunset, before 22:00
        assert (runner.clock_trusted, street.seen[-1][1]) == (True, 100)
        assert runner.order_for("lum-00", runner.now()).reason.startswith("program normal 2027-01-12 sunset")


async def test_a_level_the_gear_did_not_confirm_is_tried_again_after_retry_s(tmp_path: Path) -> None:
    async with street_at(local(DIJON, JAN_12, 20, 0), DIJON, tmp_path) as street:
        street.lamps.inject(0, Fault.BALLAST)  # the gear reports level 0 whatever it is told
        runner = street.runner(program_set(), retry_s=300)
        await runner.evaluate()
        await runner.evaluate()
        assert runner.orders == 1  # not again at once
        street.clock.t += 301
        street.lamps.inject(0, Fault.NONE)
        await runner.evaluate()
        assert runner.orders == 2
        assert abs(street.seen[-1][1] - 100) <= 1


async def test_a_step_goes_to_every_luminaire_at_once_bounded_by_max_parallel() -> None:
    """A cabinet's luminaires get a step together (their read-back settles overlap), at most
    ``max_parallel`` commands in flight; each device still gets exactly one order."""
    in_flight, peak, got = 0, 0, []
    release = asyncio.Event()

    async def apply(order: Order) -> bool:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        got.append(order.device)
        await release.wait()
        in_flight -= 1
        return True

    devices = [f"lum-{i:02d}" for i in range(20)]
    runner = LightingRunner(devices=devices, place=DIJON, clock=ManualClock(), apply=apply, max_parallel=8)
    runner.install(None)
    task = asyncio.create_task(runner.evaluate())
    for _ in range(50):
        await asyncio.sleep(0)
    assert peak == 8
    release.set()
    sent = await task
    assert sorted(got) == devices
    assert len(sent) == 20
