"""The benchmarks still run: each at a toy size, as a process, checked for the figures it prints.

Nothing here times anything (the figures live in BENCHMARKS.md); it catches a benchmark that rotted when
the code under it changed (as ``bench.agent_load`` did when the buffer's counters were renamed).
``bench.sdwrites`` and ``bench.soak`` are left out: even at a toy size they take minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RUNS = {
    "command_rtt": (
        "--commands 3 --luminaires 2 --warmup 1",
        [
            "command round trip (PUBACK -> done in the audit): p50",
            "round trip minus settle",
            "raw MQTT round trip (QoS 1",
            "ratio of round trip minus settle to raw QoS 0",
        ],
    ),
    "agent_load": (
        "--seconds 2 --warmup 2 --luminaires 2",
        ["agent CPU:", "agent RSS:", "readings committed:", "write_bytes", "poll -> central store"],
    ),
    "ingest": (
        "--batches 5 --batch 50 --window 2",
        ["raw SQLite insert", "raw broker", "collector ingest", "ratio to raw SQLite"],
    ),
    "drain": (
        "--readings 2000 --luminaires 2 --idle-warmup 1 --idle-seconds 1 --no-ceiling",
        ["drain rate:", "backlog readings in the store afterwards: 2,000 (all of them, once)"],
    ),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_the_benchmark_runs_and_prints_its_figures(name: str) -> None:
    args, expected = RUNS[name]
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args.split()],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    tail = done.stderr[-4000:]
    assert done.returncode == 0, f"bench.{name} exited {done.returncode}:\n{done.stdout}\n{tail}"
    missing = [line for line in expected if line not in done.stdout]
    assert not missing, f"bench.{name} did not print {missing}:\n{done.stdout}"
