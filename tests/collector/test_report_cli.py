"""``collector report energy|availability``: output formats, --by, and bad input (exit 2)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.cli import app
from collector.sinks import open_sink
from wire.points import Reading
from wire.telemetry import BatchKey, TelemetryBatch

START = 1_767_610_800_000  # 2026-01-05T11:00:00Z, noon in Paris
DAY = ["--since", "2026-01-05T11:00:00Z", "--until", "2026-01-06T11:00:00Z"]
runner = CliRunner()
CONFIG = """broker: {{host: 127.0.0.1}}
store: {{url: "sqlite:///{db}"}}
reports:
  sites:
    dijon: {{latitude: 47.322, longitude: 5.041, timezone: Europe/Paris, gateways: [cab-01, cab-02]}}
    lyon: {{latitude: 45.76, longitude: 4.84, timezone: Europe/Paris, gateways: [cab-09]}}
  groups: {{avenue: [cab-01/*]}}
  baselines:
    - {{group: avenue, watts: 150}}
    - {{luminaires: [lum-*], watts: 250}}
  availability:
    classes: {{luminaire: {{devices: [lum-*], expected: always}}}}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Three luminaires at 100 W (25 Wh per 15-min poll) on two cabinets, polled a whole day and more."""
    db = tmp_path / "c.db"

    async def fill() -> None:
        sink = await open_sink(f"sqlite:///{db}")
        try:
            for seq, (gw, dev) in enumerate(
                (("cab-01", "lum-00"), ("cab-01", "lum-01"), ("cab-02", "lum-00"))
            ):
                polls = range(START - 3_600_000, START + 26 * 3_600_000, 900_000)
                readings = [Reading(dev, "active_energy", t, 1000 + 25 * i) for i, t in enumerate(polls)]
                readings += [Reading(dev, "online", t, True) for t in polls]
                await sink.write([TelemetryBatch(BatchKey(gw, "e0", seq + 1), tuple(readings))])
        finally:
            await sink.close()

    asyncio.run(fill())
    path = tmp_path / "collector.yaml"
    path.write_text(CONFIG.format(db=db), encoding="utf-8")
    return path


def report(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, ["report", *args])
    return r.exit_code, r.stdout, r.stderr


def test_energy_per_luminaire_table(config: Path) -> None:
    code, out, err = report("energy", "-c", str(config), "--site", "dijon", *DAY, "--by", "luminaire")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == [
        "cabinet",
        "luminaire",
        "used_kwh",
        "estimated_kwh",
        "baseline_kwh",
        "saving_pct",
        "flags",
    ]
    assert [line.split()[:4] for line in lines[1:]] == [
        ["cab-01", "lum-00", "2.400", "0.000"],
        ["cab-01", "lum-01", "2.400", "0.000"],
        ["cab-02", "lum-00", "2.400", "0.000"],
    ]
    baselines = [float(line.split()[4]) for line in lines[1:]]
    assert baselines[0] == baselines[1] == pytest.approx(baselines[2] * 150 / 250, abs=0.002)


def test_energy_per_cabinet_csv_and_per_site_json(config: Path) -> None:
    code, out, _ = report(
        "energy", "-c", str(config), "--site", "dijon", *DAY, "--by", "cabinet", "-f", "csv"
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["cabinet"], r["luminaires"], r["used_kwh"]) for r in rows] == [
        ("cab-01", "2", "4.800"),
        ("cab-02", "1", "2.400"),
    ]
    code, out, _ = report("energy", "-c", str(config), "--site", "dijon", *DAY, "--format", "json")
    assert code == 0
    (site,) = json.loads(out)
    assert (site["site"], site["luminaires"], site["used_kwh"]) == ("dijon", 3, pytest.approx(7.2))
    night_h = site["baseline_kwh"] / (0.15 + 0.15 + 0.25)
    assert 15.0 < night_h < 15.6  # a January night in Dijon
    assert site["saving_pct"] == pytest.approx(100 * (1 - 7.2 / site["baseline_kwh"]))
    assert site["flags"] == []


def test_availability_table(config: Path) -> None:
    code, out, err = report("availability", "-c", str(config), "--site", "dijon", *DAY)
    assert code == 0, err
    assert [line.split() for line in out.splitlines()] == [
        ["gateway", "class", "devices", "expected_h", "answering_h", "availability_pct"],
        ["cab-01", "luminaire", "2", "48.0", "48.0", "100.0"],
        ["cab-02", "luminaire", "1", "24.0", "24.0", "100.0"],
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["energy", "--site", "paris", *DAY], "unknown site 'paris' (reports.sites lists: dijon, lyon)"),
        (["availability", "--site", "paris", *DAY], "unknown site 'paris'"),
        (["energy", "--site", "dijon", "--since", "30 days"], "bad time: '30 days' is neither a duration"),
        (["energy", "--site", "dijon", "--since", "2d", "--until", "3d"], "must be before --until"),
        (["energy", "--site", "dijon", *DAY, "--by", "street"], "Invalid value for '--by'"),
    ],
)
def test_bad_input_exits_2_and_says_why(config: Path, args: list[str], message: str) -> None:
    code, out, err = report(args[0], "-c", str(config), *args[1:])
    assert code == 2
    assert message in err
    assert out == ""


def test_a_config_without_reports_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("broker: {host: 127.0.0.1}\n", encoding="utf-8")
    code, _, err = report("energy", "-c", str(path), "--site", "dijon")
    assert (code, err.strip()) == (2, f"{path}: no reports: section (sites, baselines, device classes)")


def test_a_site_without_readings_exits_1(config: Path) -> None:
    code, out, err = report("energy", "-c", str(config), "--site", "lyon", *DAY)
    assert (code, out) == (1, "")
    assert "no luminaire of site 'lyon' has active_energy readings in the store" in err


@pytest.mark.parametrize(
    ("reports", "message"),
    [
        (
            "sites: {x: {latitude: 47, longitude: 5, timezone: Europe/Dijon, gateways: [g]}}",
            "reports.sites.x.timezone: 'Europe/Dijon' is not an IANA time zone",
        ),
        (
            "sites: {x: {latitude: 47, longitude: 5, timezone: UTC, gateways: [g]}}\n"
            "  baselines: [{group: avenue, watts: 150}]",
            "reports: baselines[0].group: no group 'avenue' (groups: none)",
        ),
        (
            "sites: {x: {latitude: 47, longitude: 5, timezone: UTC, gateways: [g]}}\n"
            "  baselines: [{luminaires: ['*'], watts: 0}]",
            "reports.baselines[0].watts: Input should be greater than 0",
        ),
        (
            "sites: {x: {latitude: 47, longitude: 5, timezone: UTC, gateways: [g]}}\n"
            "  availability: {classes: {lum: {devices: ['*'], expected: by_day}}}",
            "reports.availability.classes.lum.expected: Input should be 'always' or 'dusk_to_dawn'",
        ),
    ],
)
def test_a_bad_reports_section_exits_2_naming_the_field(tmp_path: Path, reports: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"broker: {{host: 127.0.0.1}}\nreports:\n  {reports}\n", encoding="utf-8")
    code, _, err = report("energy", "-c", str(path), "--site", "x")
    assert code == 2
    assert f"{path}: {message}" in err
