"""The ``_agent`` points say what the lighting runs on (:func:`edge_agent.health.reporter.lighting_values`
through a real :class:`HealthReporter`): whether the clock is trusted, the version of the running set,
the mode, and the contactor; on the simulated street with the cabinet, a clock step beyond tolerance
switches the street on at the default level and the points say why."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from edge_agent.buffer.store import Buffer
from edge_agent.clock import ManualClock
from edge_agent.config.model import UplinkConfig
from edge_agent.health.reporter import AGENT_DEVICE, HealthReporter
from edge_agent.lighting.clocksync import kernel_synchronised
from edge_agent.lighting.runner import LightingRunner
from edge_agent.uplink.publisher import Publisher
from edge_agent.uplink.topics import UplinkTopics
from mqtt_session.link import MqttLink
from tests.edge_agent.lighting_street import local, street_at
from tests.lighting.sets import DIJON, program_set

JAN_12 = dt.date(2027, 1, 12)


async def test_the_agent_points_say_whether_the_clock_is_trusted_and_which_set_runs(tmp_path: Path) -> None:
    clock = ManualClock()
    buf = await Buffer.open(tmp_path / "b.db", gateway="gw", clock=clock, commit_interval_s=0)
    link = MqttLink(client_id="gw", host="127.0.0.1", port=1)  # not connected
    publisher = Publisher(
        buffer=buf, link=link, topics=UplinkTopics.single("t"), config=UplinkConfig(), clock=clock
    )

    async def points(runner: LightingRunner) -> dict[str, object]:
        reporter = HealthReporter(
            buffer=buf, publisher=publisher, link=link, pollers=[], clock=clock, interval_s=9, lighting=runner
        )
        readings = await reporter.report()
        assert {r.device for r in readings} == {AGENT_DEVICE}
        return {r.point: r.value for r in readings if r.point.startswith("lighting.")}

    try:
        async with street_at(local(DIJON, JAN_12, 12, 0), DIJON, tmp_path, cabinet=True) as street:
            runner = street.runner(program_set(version=7))
            await runner.evaluate()  # by day: the contactor off
            assert await points(runner) == {
                "lighting.clock_trusted": True,
                "lighting.program_version": 7,
                "lighting.mode": "program",
                "lighting.mains": False,
            }
            street.clock.wall0_ms += 6 * 3600 * 1000  # the wall clock steps 6 h: beyond the tolerance
            await runner.evaluate()
            assert await points(runner) == {
                "lighting.clock_trusted": False,
                "lighting.program_version": 7,
                "lighting.mode": "default_no_clock",
                "lighting.mains": True,  # the default level needs the circuit on, by day too
            }
            assert street.lamps.luminaire(0).mains
            assert abs(street.seen[-1][1] - 100) <= 1
            runner.install(None)
            runner.clock_synchronised()
            got = await points(runner)
            assert (got["lighting.program_version"], got["lighting.mode"]) == (0, "default_dusk_to_dawn")
            no_contactor = LightingRunner(
                devices=["lum-00"], place=DIJON, clock=street.clock, apply=street.apply, clock_trusted=False
            )
            assert "lighting.mains" not in await points(no_contactor)
    finally:
        await buf.close()


async def test_a_clock_the_kernel_never_synchronised_runs_the_default_level_until_it_is(
    tmp_path: Path,
) -> None:
    synced: list[bool | None] = [False]  # what adjtimex says, as the test sets it
    async with street_at(local(DIJON, JAN_12, 12, 0), DIJON, tmp_path, cabinet=True) as street:
        runner = street.runner(program_set(), synchronised=lambda: synced[0])
        await runner.evaluate()  # noon, never synchronised: the default level, the contactor on
        assert (runner.clock_trusted, runner.mode, runner.mains) == (False, "default_no_clock", True)
        assert abs(street.seen[-1][1] - 100) <= 1
        synced[0] = True  # NTP got through
        await runner.evaluate()
        assert (runner.clock_trusted, runner.mode, runner.mains) == (True, "program", False)  # day: off
        street.clock.wall0_ms += 3600 * 1000  # NTP steps it an hour, the kernel synchronised: trusted
        await runner.evaluate()
        assert runner.clock_trusted is True
        synced[0] = False  # set by hand (date -s): the kernel says unsynchronised
        street.clock.wall0_ms += 7200 * 1000
        await runner.evaluate()
        assert (runner.clock_trusted, runner.mains) == (False, True)
        synced[0] = None  # the kernel cannot tell: the step rule alone, no step since
        await runner.evaluate()
        assert runner.clock_trusted is False  # not trusted again until synchronised
        street.clock.wall0_ms += 7200 * 1000
        synced[0] = True
        await runner.evaluate()
        assert runner.clock_trusted is True


def test_the_kernel_answers_whether_the_clock_is_synchronised() -> None:
    assert kernel_synchronised() in (True, False)  # Linux: adjtimex answers, read-only
