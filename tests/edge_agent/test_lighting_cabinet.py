"""The cabinet as it is built (:mod:`simulators.contactor`), on the simulated street
(:mod:`tests.edge_agent.lighting_street`): the runner switches the mains contactor at dusk and dawn and
never sends a DALI OFF; killed after dawn, the street lights the next dusk through the hardware fallback
(an astronomical relay in parallel) at the gear's power-on level, power and energy integrating over the
night."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from astral.sun import sunrise, sunset

from simulators.luminaire.curve import arc_to_percent, percent_to_arc
from simulators.luminaire.model import STANDBY_W
from tests.edge_agent.lighting_street import local, matches, noaa, street_at
from tests.lighting.sets import DIJON, program_set

JAN_12 = dt.date(2027, 1, 12)
MORNING = JAN_12 + dt.timedelta(days=1)
SETPOINT = 15  # holding register of lum-00's arc power setpoint (c 0, sa 0)


def minutes(a: dt.datetime, b: dt.datetime) -> float:
    return abs((a - b).total_seconds()) / 60


async def test_the_runner_switches_the_contactor_at_dusk_and_dawn_and_sends_no_dali_off(
    tmp_path: Path,
) -> None:
    async with street_at(local(DIJON, JAN_12, 12, 0), DIJON, tmp_path, cabinet=True) as street:
        assert street.cabinet is not None
        lum = street.lamps.luminaire(0)
        runner = street.runner(program_set())
        await street.run_until(runner, local(DIJON, MORNING, 12, 0))
        on_off = [on for _, on in street.switched]
        assert on_off == [False, True, False], street.switched  # noon (already off), dusk, dawn
        assert minutes(street.switched[1][0], noaa(DIJON, JAN_12, "sunset")) <= 2
        dawn = noaa(DIJON, MORNING, "sunrise") + dt.timedelta(minutes=15)  # the program's off step
        assert minutes(street.switched[2][0], dawn) <= 2
        matches(  # DALI levels only while the circuit is live: none by day, no OFF at dawn
            street.seen,
            [
                (noaa(DIJON, JAN_12, "sunset"), 100),
                (local(DIJON, JAN_12, 22, 0), 80),
                (local(DIJON, MORNING, 0, 30), 50),
            ],
        )
        setpoints = [values[0] for address, values in street.lamps.writes if address == SETPOINT]
        assert setpoints, street.lamps.writes
        assert 0 not in setpoints, setpoints
        assert (runner.mains, street.cabinet.cabinet.output, lum.mains) == (False, False, False)
        state = lum.state()
        assert (state.power_w, state.arc) == (0.0, 0)  # by day the gear draws nothing, not even standby


async def test_the_agent_killed_after_dawn_the_fallback_lights_the_next_dusk_at_the_power_on_level(
    tmp_path: Path,
) -> None:
    async with street_at(local(DIJON, JAN_12, 6, 0), DIJON, tmp_path, cabinet=True) as street:
        assert street.cabinet is not None
        cabinet = street.cabinet.cabinet
        lum = street.lamps.luminaire(0)
        lum.settings = dataclasses.replace(lum.settings, power_on=percent_to_arc(70))  # commissioned
        await street.run_until(street.runner(program_set()), local(DIJON, JAN_12, 10, 0))
        assert [on for _, on in street.switched] == [True, False]  # the night's end: off after dawn
        cabinet.dead_gateway()  # the agent is killed: its relay module's output drops and stays off
        starts = lum.state().start_counter

        live: list[dt.datetime] = []  # each minute the lighting circuit was live
        levels: set[int] = set()
        energy0 = lum.state().energy_wh
        while street.clock.now() < local(DIJON, MORNING, 10, 0):
            street.clock.t += 60
            if cabinet.update():
                live.append(street.clock.now())
                levels.add(lum.state().arc)
            else:
                assert lum.state().power_w == 0.0
        dusk = sunset(DIJON.observer, JAN_12)
        dawn = sunrise(DIJON.observer, MORNING)
        assert minutes(live[0], dusk) <= 1, live[0]
        assert minutes(live[-1], dawn) <= 1, live[-1]
        assert minutes(live[0], noaa(DIJON, JAN_12, "sunset")) <= 2  # the agent's own sun agrees
        assert levels == {percent_to_arc(70)}  # the power-on level, all night, no command sent
        state = lum.state()
        assert state.start_counter == starts + 1  # one power cycle: dusk
        assert not lum.mains
        assert cabinet.closings == 2  # the agent's night, then the fallback's
        watts = lum.nominal_w * arc_to_percent(percent_to_arc(70)) / 100 + STANDBY_W
        expected_wh = watts * (dawn - dusk).total_seconds() / 3600
        assert abs(state.energy_wh - energy0 - expected_wh) <= 0.01 * expected_wh
