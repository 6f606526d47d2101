"""Shared by the benchmarks: run the real stack (tests/e2e/stack.py) and sample a process."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ProcSample:
    cpu_s: float
    rss_kb: int
    hwm_kb: int


def sample(pid: int) -> ProcSample:
    """CPU seconds (user + system) and resident memory of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    import os

    hz = os.sysconf("SC_CLK_TCK")
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return ProcSample(ticks / hz, int(status["VmRSS"].split()[0]), int(status["VmHWM"].split()[0]))


def wait_until(cond: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(cond) and cond():
            return True
        time.sleep(0.2)
    return False
