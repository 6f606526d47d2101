"""The availability report: time answering over time expected, per gateway and device class, on readings
stored through the real sink; known answers counted here from astral's sunset and sunrise."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from astral import Observer
from astral.sun import sunrise, sunset

from collector.reports.availability import by_gateway_and_class
from collector.reports.config import ReportsConfig
from collector.reports.read import Period, availability_rows
from collector.sinks import open_sink
from wire.points import Quality, Reading
from wire.telemetry import BatchKey, TelemetryBatch

UTC = dt.UTC
START = round(dt.datetime(2026, 1, 5, 11, tzinfo=UTC).timestamp() * 1000)  # noon in Paris
SLOT = 900_000
OBS = Observer(latitude=47.322, longitude=5.041)
DUSK = round(sunset(OBS, dt.date(2026, 1, 5), tzinfo=UTC).timestamp() * 1000)
DAWN = round(sunrise(OBS, dt.date(2026, 1, 6), tzinfo=UTC).timestamp() * 1000)
DEAD = (START + 14 * 3_600_000, START + 16 * 3_600_000)  # the agent dead 02:00-04:00 local: nothing sent
OFFLINE = (START + 3 * 3_600_000, START + 4 * 3_600_000)  # the controller not answering 15:00-16:00


def config() -> ReportsConfig:
    return ReportsConfig.model_validate(
        {
            "sites": {
                "dijon": {
                    "latitude": 47.322,
                    "longitude": 5.041,
                    "timezone": "Europe/Paris",
                    "gateways": ["cab-01", "cab-02"],
                }
            },
            "availability": {
                "classes": {
                    "luminaire-switched": {"devices": ["lum-*"], "expected": "dusk_to_dawn"},
                    "controller": {"devices": ["cab-02/tlc-*"], "expected": "always"},
                }
            },
        }
    )


def polls() -> list[tuple[str, Reading]]:
    out: list[tuple[str, Reading]] = []
    for t in range(START, START + 24 * 3_600_000, SLOT):
        if not DEAD[0] <= t < DEAD[1]:  # a luminaire on switched mains: silent by day
            lit = DUSK <= t < DAWN
            out.append(("cab-01", Reading("lum-00", "online", t, lit)))
            dark = Reading("lum-00", "level", t, None, Quality.OFFLINE, "timeout")
            out.append(("cab-01", Reading("lum-00", "level", t, 100) if lit else dark))
        out.append(("cab-02", Reading("tlc-1", "online", t + 7_000, not OFFLINE[0] <= t < OFFLINE[1])))
        out.append(("cab-02", Reading("meter-9", "online", t, True)))  # in no class
    return out


async def test_answering_over_expected_per_gateway_and_class(tmp_path: Path) -> None:
    sink = await open_sink(f"sqlite:///{tmp_path}/store.db")
    try:
        readings = polls()
        batches = [
            TelemetryBatch(BatchKey(gw, "e0", i + 1), tuple(r for g, r in readings if g == gw))
            for i, gw in enumerate(("cab-01", "cab-02"))
        ]
        await sink.write(batches)
        rows, unclassified = await availability_rows(
            sink, config(), "dijon", Period(START, START + 86_400_000)
        )
    finally:
        await sink.close()
    assert unclassified == ["cab-02/meter-9"]
    night = [t for t in range(START, START + 86_400_000, SLOT) if DUSK <= t + SLOT // 2 < DAWN]
    dead = [t for t in night if DEAD[0] <= t < DEAD[1]]
    # a slot answered only if a poll inside it found the lamp lit: the poll of the dusk slot ran before dusk
    unlit = [t for t in night if not DUSK <= t < DAWN]
    lum, tlc = by_gateway_and_class(rows)
    assert (lum.gateway, lum.device_class, lum.devices) == ("cab-01", "luminaire-switched", 1)
    assert lum.expected_slots == len(night)  # the day is not expected: no fault for a silent day
    assert lum.answered_slots == len(night) - len(dead) - len(unlit)
    assert (tlc.gateway, tlc.device_class) == ("cab-02", "controller")
    assert (tlc.expected_slots, tlc.answered_slots) == (96, 92)
    assert tlc.ratio == 92 / 96


async def test_grace_after_dusk_and_before_dawn_is_not_expected(tmp_path: Path) -> None:
    raw = config().model_dump(mode="json")
    raw["availability"]["classes"]["luminaire-switched"]["grace_min"] = 30
    cfg = ReportsConfig.model_validate(raw)
    sink = await open_sink(f"sqlite:///{tmp_path}/store.db")
    try:
        await sink.write(
            [TelemetryBatch(BatchKey("cab-01", "e0", 1), tuple(r for g, r in polls() if g == "cab-01"))]
        )
        rows, _ = await availability_rows(sink, cfg, "dijon", Period(START, START + 86_400_000))
    finally:
        await sink.close()
    grace = 30 * 60_000
    night = [
        t for t in range(START, START + 86_400_000, SLOT) if DUSK + grace <= t + SLOT // 2 < DAWN - grace
    ]
    (lum,) = by_gateway_and_class(rows)
    assert lum.expected_slots == len(night)
    assert lum.answered_slots == len([t for t in night if not DEAD[0] <= t < DEAD[1]])
