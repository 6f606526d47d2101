"""What a running process costs, from /proc: CPU seconds and resident memory (:func:`sample`), and what it
caused to be written to storage (:func:`io_sample`). Used by the benchmarks and the fault suite."""

from __future__ import annotations

import os
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
    hz = os.sysconf("SC_CLK_TCK")
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return ProcSample(ticks / hz, int(status["VmRSS"].split()[0]), int(status["VmHWM"].split()[0]))


@dataclass(frozen=True)
class IoSample:
    """``/proc/<pid>/io`` of a whole process (all its threads): what it caused to be written to storage.

    ``write_bytes`` is counted when a page of the page cache turns dirty, so a page dirtied again before
    it was written back counts once; after an fsync it is clean and counts again. ``cancelled`` is
    dirty data that never reached the disk (its file was truncated or deleted first)."""

    write_bytes: int
    cancelled: int
    write_calls: int

    @property
    def stored(self) -> int:
        return self.write_bytes - self.cancelled


def io_sample(pid: int) -> IoSample:
    io = {
        k: int(v) for k, v in (line.split(":") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    }
    return IoSample(io["write_bytes"], io["cancelled_write_bytes"], io["syscw"])
