"""The demo as a person runs it: the live view shows the latest values per device kind, and Ctrl-C (a
SIGINT to the demo's whole process group, as a terminal sends it) stops every part cleanly, exit 0."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo.view import render, snapshot
from harness.stack import BIN, ROOT

pytestmark = pytest.mark.e2e
GATEWAY = "cab-e2e"  # harness.stack.Stack's default


@dataclass(frozen=True)
class Interrupted:
    code: int
    out: str
    store: Path


@pytest.fixture(scope="module")
def interrupted_demo(tmp_path_factory: pytest.TempPathFactory) -> Interrupted:
    """The demo run until its view has shown every device kind, then interrupted like Ctrl-C."""
    workdir = tmp_path_factory.mktemp("demo") / "demo"
    log = workdir.parent / "demo.out"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "python"), "-m", "demo.run", "--luminaires", "5", "--workdir", str(workdir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # a process group of its own, as a terminal's foreground job
        )
    try:
        deadline = time.monotonic() + 120
        while "traffic     tlc-1: mode " not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground process group
        code = proc.wait(60)
    finally:
        if proc.poll() is None:  # the demo stops its parts on SIGTERM too; -9 would orphan them
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    return Interrupted(code, log.read_text(), workdir / "store.db")


def test_ctrl_c_stops_every_part_cleanly(interrupted_demo: Interrupted) -> None:
    out = interrupted_demo.out
    assert interrupted_demo.code == 0, out
    assert "exited unexpectedly" not in out
    assert "stopping: agent, collector, simulators, broker" in out
    assert "stopped cleanly: every part exited 0." in out


def test_the_view_shows_the_latest_values_per_device_kind(interrupted_demo: Interrupted) -> None:
    out = interrupted_demo.out
    assert "luminaires  5 reporting, 5 online; level avg " in out  # what the demo printed while running
    assert "bollards    bollard-site-1: state " in out
    snap = snapshot(interrupted_demo.store, GATEWAY)
    lines = render(snap, rate=12.0)
    assert lines[0] == f"readings stored: {snap.total:,}   rate: 12 readings/s"
    with closing(sqlite3.connect(interrupted_demo.store)) as db:
        assert snap.total == db.execute("SELECT COUNT(*) FROM readings").fetchone()[0] > 0
        latest = dict(
            db.execute(
                "SELECT s.point, COALESCE(r.value_text, r.value_num) FROM series s JOIN readings r "
                "ON r.series_id = s.id WHERE s.device = ? ORDER BY r.ts_ms",
                ("tlc-1",),
            ).fetchall()
        )  # the last row of each point wins
        power, level = (
            db.execute(
                "SELECT r.value_num FROM series s JOIN readings r ON r.series_id = s.id "
                f"WHERE s.device = 'lum-03' AND s.point = '{point}' ORDER BY r.ts_ms DESC LIMIT 1"
            ).fetchone()[0]
            for point in ("active_power", "level")
        )  # the lighting runner sets the level (by day: off, by night: the default level)
    summary = next(line for line in lines if line.startswith("luminaires  "))
    assert summary.startswith("luminaires  5 reporting, 5 online; level avg ")
    assert summary.endswith("failures: none")
    shown = f"{power:.0f}" if float(power).is_integer() else f"{power:.1f}"
    assert f"            lum-03: level {level:.0f} %, power {shown} W, failure none" in lines
    bollard = next(line for line in lines if line.startswith("bollards    "))
    assert bollard.startswith("bollards    bollard-site-1: state up, logic automatic, loop 1 ")
    traffic = next(line for line in lines if line.startswith("traffic     "))
    assert traffic == (
        f"traffic     tlc-1: mode {latest['control_mode']}, plan {latest['plan']:.0f}, stage "
        f"{latest['stage']:.0f} (second {latest['cycle_second']:.0f} of the cycle)"
    )
