"""The documented scenario (docs/lighting.md, "The documented scenario"): its saving computed in closed
form from the program, the DALI dimming curve and the simulator's power model matches the energy report
on the simulator's counters, polled and stored over 7 simulated nights, within ±1 %."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from astral import Observer
from astral.sun import sunrise, sunset

from collector.reports.config import ReportsConfig
from collector.reports.energy import By, totals
from collector.reports.read import Period, energy_rows
from configfile.loader import parse
from lighting.model import ProgramSet
from lighting.night import switches_between, wanted
from lighting.sun import Place
from simulators.luminaire.curve import arc_to_percent, percent_to_arc
from simulators.luminaire.model import STANDBY_W
from tests.collector.energy_street import H_MS, street

DOC = Path(__file__).resolve().parents[2] / "docs" / "lighting.md"


def scenario() -> dict[str, Any]:
    text = DOC.read_text(encoding="utf-8").split("### The documented scenario", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert block is not None, "docs/lighting.md: the scenario's yaml block"
    raw = parse(block.group(1), DOC)
    assert isinstance(raw, dict)
    return raw


def light(level: int) -> float:
    """The share of full light the gear gives for a setpoint: through the log curve and back."""
    return arc_to_percent(percent_to_arc(level)) / 100 if level else 0.0


def closed_form(sc: dict[str, Any]) -> tuple[float, float]:
    """(E_led, E_base) in Wh, night by night from astral's sunset and sunrise and the program's steps."""
    tz = ZoneInfo(sc["site"]["timezone"])
    obs = Observer(latitude=sc["site"]["latitude"], longitude=sc["site"]["longitude"])
    start = dt.datetime.fromisoformat(sc["period"]["from"])
    end = dt.datetime.fromisoformat(sc["period"]["to"])
    steps = sc["program_set"]["programs"]["dimmed"]["steps"]
    assert [s["at"] for s in steps] == ["sunset", "22:00", "00:30", "05:30", "sunrise"]
    levels = [s["level"] for s in steps]
    led_w, e_led, e_base = sc["led_w"], 0.0, 0.0
    evening = start.date()
    while evening < end.date():
        morning = evening + dt.timedelta(days=1)
        times = [
            sunset(obs, evening, tzinfo=tz),
            dt.datetime.combine(evening, dt.time(22), tz),
            dt.datetime.combine(morning, dt.time(0, 30), tz),
            dt.datetime.combine(morning, dt.time(5, 30), tz),
            sunrise(obs, morning, tzinfo=tz),
        ]
        for (a, b), level in zip(itertools.pairwise(times), levels, strict=False):
            e_led += led_w * light(level) * (b - a).total_seconds() / 3600
        e_base += sc["baseline_w"] * (times[-1] - times[0]).total_seconds() / 3600
        evening = morning
    e_led += STANDBY_W * (end - start).total_seconds() / 3600
    return e_led, e_base


def test_the_closed_form_is_the_documented_figure() -> None:
    e_led, e_base = closed_form(scenario())
    text = DOC.read_text(encoding="utf-8")
    assert f"E_led = 4.477 kWh of light + 0.084 kWh of standby = **{e_led / 1000:.3f}" in text
    assert f"E_base = **{e_base / 1000:.3f} kWh**" in text
    assert f"a saving of **{100 * (1 - e_led / e_base):.1f} %**" in text


async def test_the_report_matches_the_closed_form_within_one_percent(tmp_path: Path) -> None:
    sc = scenario()
    site = sc["site"]
    place = Place(site["latitude"], site["longitude"], site["timezone"])
    pset = ProgramSet.model_validate(sc["program_set"])
    since = dt.datetime.fromisoformat(sc["period"]["from"]).astimezone(dt.UTC)
    until = dt.datetime.fromisoformat(sc["period"]["to"]).astimezone(dt.UTC)
    since_ms, until_ms = (round(t.timestamp() * 1000) for t in (since, until))
    first = since - dt.timedelta(hours=1)
    async with street(tmp_path, since_ms - H_MS, nominal_w=sc["led_w"]) as s:
        # the program's switch points, as the gateway's runner would command them (setpoint register)
        levels = [(since_ms - H_MS, wanted(pset, "lum-00", first, place).level)]
        for sw in switches_between(pset, "lum-00", first, until + dt.timedelta(hours=1), place):
            levels.append((round(sw.at.timestamp() * 1000), sw.level))
        events = [(at, functools.partial(s.set_level, 0, level)) for at, level in levels]
        await s.run(until_ms + H_MS, events=events)
        cfg = ReportsConfig.model_validate(
            {
                "sites": {"dijon": {**site, "gateways": ["cab-01"]}},
                "baselines": [{"luminaires": ["cab-01/*"], "watts": sc["baseline_w"]}],
            }
        )
        rows = await energy_rows(s.uplink.sink, cfg, "dijon", Period(since_ms, until_ms))
    e_led, e_base = closed_form(sc)
    (lum,) = rows
    assert lum.flags == ()  # nothing estimated, no gap
    assert lum.used_wh == pytest.approx(e_led, rel=0.01)
    assert lum.baseline_wh == pytest.approx(e_base, rel=0.001)
    (total,) = totals(rows, By.SITE, "dijon")
    assert total.saving is not None
    assert 100 * total.saving == pytest.approx(100 * (1 - e_led / e_base), abs=1.0)  # ±1 % point
    assert total.saving == pytest.approx(1 - e_led / e_base, rel=0.01)
