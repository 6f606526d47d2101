"""The energy report on the luminaire simulator's own counters, polled and stored over simulated days:
a counter wrap, a replaced gear, the agent dead for hours; known answers computed here independently."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from astral import Observer
from astral.sun import sunrise, sunset

from collector.reports.config import ReportsConfig
from collector.reports.energy import By, totals
from collector.reports.read import Period, energy_rows
from collector.sinks import open_sink
from simulators.luminaire.model import STANDBY_W
from tests.collector.energy_street import H_MS, street
from wire.points import Reading
from wire.telemetry import BatchKey, TelemetryBatch

UTC = dt.UTC
START = round(dt.datetime(2026, 1, 5, 11, tzinfo=UTC).timestamp() * 1000)  # noon in Paris
DIJON = {"latitude": 47.322, "longitude": 5.041, "timezone": "Europe/Paris", "gateways": ["cab-01"]}


def night_hours(evening: dt.date) -> float:
    """Sunset to the next sunrise in Dijon, straight from astral (the report walks lighting.night)."""
    obs = Observer(latitude=DIJON["latitude"], longitude=DIJON["longitude"])  # type: ignore[arg-type]
    dusk = sunset(obs, evening, tzinfo=UTC)
    dawn = sunrise(obs, evening + dt.timedelta(days=1), tzinfo=UTC)
    return (dawn - dusk).total_seconds() / 3600


def config(**extra: object) -> ReportsConfig:
    return ReportsConfig.model_validate(
        {
            "sites": {"dijon": DIJON},
            "groups": {"avenue": ["cab-01/lum-00"]},
            "baselines": [{"group": "avenue", "watts": 150}, {"luminaires": ["lum-01"], "watts": 250}],
            **extra,
        }
    )


async def test_a_wrap_a_replaced_gear_and_a_dead_agent_give_the_known_answer(tmp_path: Path) -> None:
    # Both luminaires at full light all day: 100 W nominal + standby = 100.5 W, so a day is 2412 Wh.
    # lum-00's counter starts 500 Wh below 2**32: it wraps after ~5 h; the agent is dead 13:00-16:00
    # (no polls: the gear keeps counting, the report bridges the gap). lum-01's gear is replaced at
    # 10 h 07 min: its counter starts again from 0 between two polls.
    until = START + 24 * H_MS
    async with street(tmp_path, START - H_MS, count=2, nominal_w=100.0, energy_wh=2**32 - 500.0) as s:
        s.sim.luminaire(1).replace_gear(serial=99)  # lum-01 starts from zero, lum-00 near the top
        swap = START + 10 * H_MS + 7 * 60_000
        await s.run(
            until + H_MS,
            events=[(swap, lambda: s.sim.luminaire(1).replace_gear(serial=100))],
            dead=[(START + 13 * H_MS, START + 16 * H_MS)],
        )
        rows = await energy_rows(s.uplink.sink, config(), "dijon", Period(START, until))
    day_wh = (100.0 + STANDBY_W) * 24
    lum0, lum1 = rows
    assert (lum0.device, lum1.device) == ("lum-00", "lum-01")
    assert lum0.used_wh == pytest.approx(day_wh, abs=1.0)  # whole Wh read at both ends
    assert lum0.estimated_wh == 0.0
    assert (lum0.count("wrap"), lum0.count("gap"), lum0.count("new gear")) == (1, 1, 0)
    gap = next(f for f in lum0.flags if f.what == "gap")
    assert (gap.start_ms, gap.end_ms) == (START + 12 * H_MS + 45 * 60_000, START + 16 * H_MS)
    # the 15 min holding the swap are estimated at the luminaire's mean power (100.5 W): 25.1 Wh
    assert lum1.used_wh == pytest.approx(day_wh, abs=2.0)
    assert lum1.estimated_wh == pytest.approx(100.5 / 4, abs=0.1)
    assert (lum1.count("wrap"), lum1.count("gap"), lum1.count("new gear")) == (0, 1, 1)  # same agent
    hours = night_hours(dt.date(2026, 1, 5))
    assert lum0.baseline_wh == pytest.approx(150 * hours, rel=1e-4)
    assert lum1.baseline_wh == pytest.approx(250 * hours, rel=1e-4)
    (site,) = totals(rows, By.SITE, "dijon")
    assert site.used_wh == pytest.approx(2 * day_wh, abs=3.0)
    assert site.saving == pytest.approx(1 - 2 * day_wh / (400 * hours), abs=1e-3)
    assert site.flags == {"wrap": 1, "gap": 2, "new gear": 1}


async def test_another_serial_starts_a_new_counter_where_the_interface_reads_one(tmp_path: Path) -> None:
    # A used gear replaces one 300 Wh behind it: a rise a 2000 W luminaire could make in 15 min, so only
    # the serial tells. Every 15 min: 25 Wh (100 W).
    polls = range(START - H_MS, START + 25 * H_MS, 900_000)
    readings = []
    for i, t in enumerate(polls):
        new = t >= START + 6 * H_MS
        readings.append(Reading("lum-00", "active_energy", t, (4300 if new else 4000) + 25 * i))
        readings.append(Reading("lum-00", "gear_serial", t, "SN-B" if new else "SN-A"))
    sink = await open_sink(f"sqlite:///{tmp_path}/store.db")
    try:
        await sink.write([TelemetryBatch(BatchKey("cab-01", "e0", 1), tuple(readings))])
        period = Period(START, START + 24 * H_MS)
        (with_serial,) = await energy_rows(
            sink, config(energy={"serial_point": "gear_serial"}), "dijon", period
        )
        (without,) = await energy_rows(sink, config(), "dijon", period)
    finally:
        await sink.close()
    assert with_serial.used_wh == pytest.approx(2400.0)
    assert with_serial.estimated_wh == pytest.approx(25.0)  # the swap's 15 min at the mean power
    assert [f.what for f in with_serial.flags] == ["new gear"]
    assert without.used_wh == pytest.approx(2700.0)  # blind to the swap: 300 Wh too many
    assert without.flags == ()
