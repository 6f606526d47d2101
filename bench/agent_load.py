"""Agent CPU and memory at a cabinet's load: 50 luminaires x 10 points, polled every second.

Runs the real stack (luminaire simulator, Mosquitto, collector, agent as separate processes), lets it
warm up, then samples the agent process for ``--seconds`` (default 60). Prints CPU % of one core,
peak RSS (VmHWM), readings committed per second, the bytes the agent caused to be written to storage
(``write_bytes`` of ``/proc/<pid>/io``) per day and per reading (bench/sdwrites.py breaks them down), and
each reading's time from its poll to the central store: the collector's commit of its batch
(``batches.stored_at_ms``) minus the reading's timestamp, p50 / p99 / max over the readings of the field
devices polled in the measured window (one machine, one clock).

    .venv/bin/python -m bench.agent_load [--seconds 60] [--luminaires 50]
"""

from __future__ import annotations

import argparse
import math
import platform
import sqlite3
import tempfile
import time
from pathlib import Path

from harness.procstat import io_sample, sample
from harness.stack import Stack


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=10)
    ap.add_argument("--luminaires", type=int, default=50)
    ap.add_argument("--max-gap", type=int, default=80, help="registers a Modbus request may skip")
    ap.add_argument("--commit-interval", type=float, default=0.5, help="buffer group-commit period, s")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(
            Path(tmp),
            luminaires=args.luminaires,
            poll_interval_s=1.0,
            confirm_timeout_s=15,
            max_gap=args.max_gap,
            commit_interval_s=args.commit_interval,
        )
        stack.start()
        try:
            time.sleep(args.warmup)
            assert stack.agent is not None
            assert stack.agent.proc is not None
            pid = stack.agent.proc.pid
            before, c0, t0 = sample(pid), stack.committed(), time.monotonic()
            io0, w0 = io_sample(pid), time.time_ns() // 1_000_000
            time.sleep(args.seconds)
            after, c1, t1 = sample(pid), stack.committed(), time.monotonic()
            written, w1 = io_sample(pid).stored - io0.stored, time.time_ns() // 1_000_000
            time.sleep(3)  # the window's last readings reach the store
            stored = len(stack.stored())
            lags = poll_to_store_ms(stack.store_path, w0, w1)
        finally:
            stack.stop()
        wall = t1 - t0
        rate = (c1 - c0) / wall
        print(
            f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
        )
        print(
            f"load: {args.luminaires} luminaires x 10 points (+ 'online'), polled every 1 s, "
            f"{wall:.0f} s measured"
        )
        print(f"agent CPU: {100 * (after.cpu_s - before.cpu_s) / wall:.1f} % of one core")
        print(f"agent RSS: {after.rss_kb / 1024:.1f} MB now, {after.hwm_kb / 1024:.1f} MB peak (VmHWM)")
        print(f"readings committed: {rate:.0f} /s; stored at the centre by the end: {stored}")
        print(
            f"agent writes to storage (write_bytes): {written / wall * 86_400 / 1e9:.2f} GB/day, "
            f"{written / max(1, c1 - c0):.0f} bytes per reading committed"
        )
        if lags:
            print(
                f"poll -> central store ({len(lags)} readings): p50 {pct(lags, 0.5):.0f} ms, "
                f"p99 {pct(lags, 0.99):.0f} ms, max {lags[-1]:.0f} ms"
            )


def poll_to_store_ms(store: Path, from_ms: int, to_ms: int) -> list[int]:
    """Sorted: the collector's commit of each reading's batch minus the reading's timestamp, for the
    field devices' readings stamped in ``[from_ms, to_ms)``."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10) as db:
        rows = db.execute(
            "SELECT b.stored_at_ms - r.ts_ms FROM readings r JOIN batches b ON b.id = r.batch_id "
            "JOIN series s ON s.id = r.series_id WHERE s.device != '_agent' AND r.ts_ms >= ? AND r.ts_ms < ?",
            (from_ms, to_ms),
        )
        return sorted(int(lag) for (lag,) in rows)


def pct(sorted_values: list[int], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return float(sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))])


if __name__ == "__main__":
    main()
