"""Agent CPU and memory at a cabinet's load: 50 luminaires x 10 points, polled every second.

Runs the real stack (luminaire simulator, Mosquitto, collector, agent as separate processes), lets it
warm up, then samples the agent process for ``--seconds`` (default 60). Prints CPU % of one core,
peak RSS (VmHWM), readings committed per second, and the bytes the agent caused to be written to storage
(``write_bytes`` of ``/proc/<pid>/io``) per day and per reading (bench/sdwrites.py breaks them down).

    .venv/bin/python -m bench.agent_load [--seconds 60] [--luminaires 50]
"""

from __future__ import annotations

import argparse
import platform
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
            io0 = io_sample(pid)
            time.sleep(args.seconds)
            after, c1, t1 = sample(pid), stack.committed(), time.monotonic()
            written = io_sample(pid).stored - io0.stored
            stored = len(stack.stored())
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


if __name__ == "__main__":
    main()
