"""SD-card writes of the agent at a cabinet's load (bench/agent_load.py's), per day, and what they are.

1. The real stack (simulator, Mosquitto, collector, agent as processes; the collector's store on tmpfs,
   so that its writes are not the agent's): after a warm-up, over ``--seconds``,
   - ``write_bytes`` of ``/proc/<agent>/io``: what the agent caused to be written to storage (page-cache
     pages it dirtied; after each fsync a page counts again), extrapolated to a day, and per reading
     committed (the buffer's ``committed`` counter);
   - the buffer's WAL watched from outside (bench/walwatch.py): transactions, frames, checkpoints and the
     pages they copied back, the WAL file's size;
   - fsync/fdatasync calls of the agent, from the kernel's syscall tracepoints (``perf stat``; skipped
     when perf is missing or not allowed).
2. The breakdown: the same load replayed in-process into the agent's ``Buffer`` at full speed
   (bench/replay.py), each WAL frame attributed to its transaction (append, seal, ack) and to what its
   page holds (readings, a batch's payload, the counters, the freelist...), checkpoints apart; and the
   same for cheaper settings (the levers), with the bytes a day each would cost.

    .venv/bin/python -m bench.sdwrites [--seconds 300] [--commit-interval 0.5] [--linger 0.2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from bench.replay import KINDS, Mix, Replay, replay
from bench.stackrun import BenchStack, exit_on_signals, new_buffer_file
from bench.walwatch import WalCounts, WalWatch
from harness.procstat import IoSample, io_sample

GB = 1e9
MB = 1e6
TRACEPOINTS = ("fsync", "fdatasync", "pwrite64")


@dataclass
class Measured:
    seconds: float
    io: IoSample  # over the window
    committed: int
    wal: WalCounts
    page_size: int
    wal_bytes: int
    syscalls: dict[str, int] | None

    def per_day(self, n: float) -> float:
        return n * 86_400 / self.seconds


def perf_stat(pid: int, seconds: float) -> subprocess.Popen[str] | None:
    perf = shutil.which("perf")
    if perf is None:
        return None
    events = ",".join(f"syscalls:sys_enter_{name}" for name in TRACEPOINTS)
    return subprocess.Popen(
        [perf, "stat", "-x", ",", "-e", events, "-p", str(pid), "--", "sleep", str(seconds)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: an interrupted bench stops it with its `sleep`
    )


def stop_group(proc: subprocess.Popen[str] | None) -> None:
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def perf_counts(proc: subprocess.Popen[str] | None) -> dict[str, int] | None:
    if proc is None:
        return None
    _, err = proc.communicate(timeout=30)
    counts = {}
    for line in err.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2].startswith("syscalls:sys_enter_") and fields[0].isdigit():
            counts[fields[2].removeprefix("syscalls:sys_enter_")] = int(fields[0])
    return counts if proc.returncode == 0 and counts else None


def measure(work: Path, args: argparse.Namespace) -> Measured:
    with tempfile.TemporaryDirectory(prefix="bench-sd-store-", dir="/dev/shm") as shm:
        stack = BenchStack(
            work,
            luminaires=args.luminaires,
            poll_interval_s=1.0,
            confirm_timeout_s=15,
            commit_interval_s=args.commit_interval,
            agent_overrides={"uplink": {"batch_linger_s": args.linger, "batch_max_readings": args.batch}},
            store_dir=Path(shm),
        )
        perf = None
        try:
            new_buffer_file(stack.buffer_path, args.page_size or None)
            stack.start_parts()
            pid = stack.start_agent()
            time.sleep(args.warmup)
            watch = WalWatch(stack.buffer_path)
            perf = perf_stat(pid, args.seconds)
            io0, c0, t0 = io_sample(pid), stack.committed(), time.monotonic()
            wal_bytes = 0
            while time.monotonic() - t0 < args.seconds:
                time.sleep(0.1)
                watch.poll()
                wal_bytes = max(wal_bytes, watch.wal_bytes())
            io1, c1, t1 = io_sample(pid), stack.committed(), time.monotonic()
            watch.poll()
            syscalls = perf_counts(perf)
        finally:
            stop_group(perf)
            stack.stop()
    io = IoSample(
        io1.write_bytes - io0.write_bytes, io1.cancelled - io0.cancelled, io1.write_calls - io0.write_calls
    )
    return Measured(t1 - t0, io, c1 - c0, watch.counts, watch.page_size, wal_bytes, syscalls)


def report_measured(m: Measured) -> None:
    per_s = m.committed / m.seconds
    print(f"\nmeasured on the real stack over {m.seconds:.0f} s ({per_s:.0f} readings committed /s):")
    print(
        f"  agent write_bytes: {m.io.stored / MB:.1f} MB -> {m.per_day(m.io.stored) / GB:.2f} GB/day; "
        f"{m.io.stored / m.committed:,.0f} bytes per reading committed"
    )
    w = m.wal
    print(
        f"  WAL: {w.transactions / m.seconds:.1f} transactions/s, "
        f"{w.frames / max(1, w.transactions):.1f} frames ({m.page_size} B pages) each; "
        f"{w.checkpoints} checkpoints ({w.checkpoints / m.seconds * 3600:.0f}/h), "
        f"{w.pages_checkpointed / max(1, w.checkpoints):.0f} pages copied back each; "
        f"WAL file {m.wal_bytes / MB:.1f} MB"
    )
    wal_share = w.frames * (24 + m.page_size) / max(1, m.io.stored)
    ckpt_share = w.pages_checkpointed * m.page_size / max(1, m.io.stored)
    print(
        f"  of write_bytes: WAL frames {wal_share:.0%}, checkpoints {ckpt_share:.0%} "
        "(the rest: page-cache pages a WAL frame straddles)"
    )
    if m.syscalls is None:
        print("  fsyncs: not measured (perf is missing or not allowed)")
    else:
        syncs = m.syscalls.get("fsync", 0) + m.syscalls.get("fdatasync", 0)
        print(
            f"  fsync + fdatasync: {syncs / m.seconds:.1f} /s ({m.per_day(syncs):,.0f} a day); "
            f"pwrite64: {m.syscalls.get('pwrite64', 0) / m.seconds:.0f} /s"
        )


def report_breakdown(r: Replay) -> None:
    print(
        f"\nbreakdown (replay of {r.seconds / 60:.0f} simulated minutes into the agent's Buffer, "
        f"{r.committed / r.seconds:.0f} readings/s): {r.per_day(r.total_bytes) / GB:.2f} GB/day, "
        f"{r.total_bytes / r.committed:,.0f} bytes per reading"
    )
    total = r.total_bytes
    print(f"  {'transaction':<12}{'per s':>7}{'frames each':>13}{'GB/day':>8}{'share':>7}")
    for kind in KINDS:
        n = r.transactions[kind]
        frames = sum(v for (k, _), v in r.frames.items() if k == kind)
        print(
            f"  {kind:<12}{n / r.seconds:>7.1f}{frames / max(1, n):>13.1f}"
            f"{r.per_day(r.write_bytes[kind]) / GB:>8.2f}{r.write_bytes[kind] / total:>7.0%}"
        )
    print(
        f"  {'checkpoints':<12}{r.checkpoints / r.seconds:>7.2f}"
        f"{r.checkpoint_pages / max(1, r.checkpoints):>13.0f}"
        f"{r.per_day(r.checkpoint_bytes) / GB:>8.2f}{r.checkpoint_bytes / total:>7.0%}"
    )
    roles: Counter[str] = Counter()
    for (_, role), n in r.frames.items():
        roles[role] += n
    frames = sum(roles.values())
    print("  WAL frames by what the page holds (all transactions):")
    for role, n in roles.most_common():
        by_kind = ", ".join(
            f"{k} {r.frames[(k, role)] / r.seconds:.1f}/s" for k in KINDS if r.frames[(k, role)]
        )
        print(f"    {role:<32}{n / frames:>5.0%}  ({by_kind})")


def levers(work: Path, base: Mix, seconds: float) -> None:
    variants = {
        "as above": base,
        "commit_interval_s 1.0": replace(base, commit_interval_s=1.0),
        "batch_linger_s 1.0, batch_max_readings 1000 (defaults)": replace(base, linger_s=1.0, batch_max=1000),
        "the three together": replace(base, commit_interval_s=1.0, linger_s=1.0, batch_max=1000),
        "buffer created with page_size 1024": replace(base, page_size=1024),
        "page_size 1024 and the three settings": replace(
            base, commit_interval_s=1.0, linger_s=1.0, batch_max=1000, page_size=1024
        ),
    }
    print("\nlevers (each replayed like the breakdown):")
    first = None
    for name, mix in variants.items():
        path = work / "lever.db"
        r = replay(path, mix, seconds)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        day = r.per_day(r.total_bytes)
        first = first or day
        commits = sum(r.transactions.values())
        print(
            f"  {name:<56}{day / GB:>6.2f} GB/day ({day / first:>4.0%}), "
            f"{commits / r.seconds:.1f} commits/s, {r.total_bytes / r.committed:,.0f} B/reading"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=300, help="measured window on the real stack")
    ap.add_argument("--warmup", type=float, default=15)
    ap.add_argument("--luminaires", type=int, default=50)
    ap.add_argument("--commit-interval", type=float, default=0.5, help="buffer.commit_interval_s")
    ap.add_argument("--linger", type=float, default=0.2, help="uplink.batch_linger_s")
    ap.add_argument("--batch", type=int, default=500, help="uplink.batch_max_readings")
    ap.add_argument("--page-size", type=int, default=None, help="create the buffer with this page size")
    ap.add_argument("--replay-minutes", type=float, default=20, help="simulated time of each replay")
    ap.add_argument("--no-stack", action="store_true", help="only the replays")
    ap.add_argument("--no-replay", action="store_true", help="only the real stack")
    args = ap.parse_args()
    exit_on_signals()
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    print(
        f"load: {args.luminaires} luminaires x 10 points (+ 'online') every 1 s, _agent points every 5 s; "
        f"commit_interval_s {args.commit_interval}, batch_linger_s {args.linger}, "
        f"batch_max_readings {args.batch}"
    )
    mix = Mix(args.luminaires, 5.0, args.commit_interval, args.batch, args.linger, args.page_size or 4096)
    with tempfile.TemporaryDirectory(prefix="bench-sd-") as tmp:
        work = Path(tmp)
        if not args.no_stack:
            report_measured(measure(work, args))
        if not args.no_replay:
            report_breakdown(replay(work / "replay.db", mix, args.replay_minutes * 60))
            levers(work, mix, args.replay_minutes * 60)


if __name__ == "__main__":
    main()
