"""Draining a backlog: an agent whose buffer holds ``--readings`` (10 million) readings after an outage.

The backlog is written by the agent's own ``Buffer.append`` (bench/backlog.py: 50 luminaires x 11 points
a second and the ``_agent`` points, about 5 hours for 10 M) before the agent starts. The agent then
drains it through Mosquitto into ``collector run`` (SQLite store) while it keeps polling the luminaire
simulator, as in production after an outage. Measured in one run, each part as its own process:

1. raw limits: plain SQLite inserts of the store's rows (one commit per batch), and the collector's
   ingest rate from a simulated gateway with the agent's batch size and window (bench/ingest.py);
2. idle: the same agent config with an empty buffer: RSS after warm-up, and how old the newest stored
   reading is (the live lag);
3. drain: peak RSS (VmHWM) while draining, the drain rate (backlog readings / time from the agent's
   start to the last backlog reading confirmed stored), when the first fresh reading was stored, the
   live lag during the drain, and every process's CPU;
4. ceiling: the same drain against a confirm-only peer (bench/confirm_peer.py: no store).

    .venv/bin/python -m bench.drain [--readings 10000000] [--batch 500] [--window 8]
"""

from __future__ import annotations

import argparse
import platform
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench import backlog, limits
from bench.stackrun import BenchStack, cpu_shares, exit_on_signals, pids, read_only, remove_db
from edge_agent.counters import Counter
from harness.procstat import sample

MB = 1024 * 1024
AIM_MB = 15
HEALTH_INTERVAL_S = 5.0  # as harness/stack.py configures the agent (the default is 60 s)


@dataclass
class Idle:
    rss_kb: int
    hwm_kb: int
    cpu: float  # share of one core
    lag_s: float  # median age of the newest stored reading


@dataclass
class Drain:
    peer: str
    drained: bool
    seconds: float  # from the agent's start to the last backlog reading confirmed stored
    first_confirm_s: float | None
    first_fresh_s: float | None
    hwm_kb: int
    rss_max_kb: int
    cpu: dict[str, float]  # process -> share of one core over the drain
    lags: list[float] = field(default_factory=list)
    stored_backlog: int | None = None

    def rate(self, n: int) -> float:
        return n / self.seconds


def newest_stored(store: Path, gateway: str) -> int | None:
    """Timestamp of the newest ``online`` reading of any luminaire in the store (one index probe each)."""
    if not store.exists():
        return None
    with closing(read_only(store)) as db:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'readings'").fetchone() is None:
            return None
        row = db.execute(
            "SELECT MAX((SELECT MAX(ts_ms) FROM readings r WHERE r.series_id = s.id)) FROM series s "
            "WHERE s.gateway = ? AND s.point = 'online'",
            (gateway,),
        ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _pause() -> float:
    """Between two samples: 0.2-0.5 s at random, so that samples do not lock onto the agent's 0.5 s
    commit period (the age of the newest stored reading goes through a cycle of that period)."""
    return random.uniform(0.2, 0.5)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@contextmanager
def cabinet(work: Path, args: argparse.Namespace, peer: str) -> Iterator[BenchStack]:
    stack = BenchStack(
        work,
        luminaires=args.luminaires,
        poll_interval_s=1.0,
        confirm_timeout_s=15,
        agent_overrides={
            "buffer": {"max_bytes": args.max_bytes},
            "uplink": {"batch_max_readings": args.batch, "in_flight_batches": args.window},
            "health_interval_s": args.health_interval,
        },
        peer=peer,
    )
    try:
        stack.start_parts()
        yield stack
    finally:
        stack.stop()


def idle(work: Path, args: argparse.Namespace) -> Idle:
    remove_db(work / "buffer.db", work / "store.db")
    with cabinet(work, args, "collector") as stack:
        pid = stack.start_agent()
        time.sleep(args.idle_warmup)
        first, rss, lags = sample(pid), [], []
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.idle_seconds:
            rss.append(sample(pid).rss_kb)
            newest = newest_stored(stack.store_path, stack.gateway)
            if newest is not None:
                lags.append((now_ms() - newest) / 1000)
            time.sleep(_pause())
        last = sample(pid)
        cpu = (last.cpu_s - first.cpu_s) / (time.monotonic() - t0)
    return Idle(int(statistics.median(rss)), last.hwm_kb, cpu, statistics.median(lags) if lags else -1)


def drain(
    work: Path, args: argparse.Namespace, held: backlog.Backlog, peer: str, *, flush: bool = False
) -> Drain:
    """The agent (or ``edge-agent flush``, which does not poll) drains ``held`` into ``peer``."""
    remove_db(work / "buffer.db", work / "store.db")
    shutil.copyfile(held.path, work / "buffer.db")
    with cabinet(work, args, peer) as stack:
        t0, wall0 = time.monotonic(), now_ms()
        pid = stack.start_flush(args.timeout) if flush else stack.start_agent()
        pid_of = pids(stack)
        before = {name: sample(p) for name, p in pid_of.items()}
        result = Drain("flush" if flush else peer, False, 0.0, None, None, 0, 0, {})
        last_print, last = t0, before["agent"]
        with closing(read_only(stack.buffer_path)) as buf:
            while time.monotonic() - t0 < args.timeout:
                time.sleep(_pause())
                agent = stack.agent
                assert agent is not None
                assert agent.proc is not None
                if not agent.running:
                    if flush and agent.proc.returncode == 0:  # it exits once everything is confirmed
                        result.drained, result.seconds = True, time.monotonic() - t0
                        break
                    raise RuntimeError(f"the agent exited while draining:\n{stack.logs()}")
                try:
                    last, now = sample(pid), time.monotonic()
                    unsealed, batches = backlog.left(buf, held.last_seq)
                    (confirmed,) = buf.execute(
                        "SELECT value FROM counters WHERE name=?", (Counter.CONFIRMED,)
                    ).fetchone()
                except (sqlite3.OperationalError, OSError, KeyError):  # opening its buffer, or just exited
                    continue
                # VmHWM is only brought up to date now and then (it reads max(the last update, VmRSS)), so
                # the peak is the highest of all samples
                result.hwm_kb = max(result.hwm_kb, last.hwm_kb, last.rss_kb)
                result.rss_max_kb = max(result.rss_max_kb, last.rss_kb)
                if confirmed and result.first_confirm_s is None:
                    result.first_confirm_s = now - t0
                if peer == "collector" and not flush:
                    newest = newest_stored(stack.store_path, stack.gateway)
                    if newest is not None and newest >= wall0:
                        result.first_fresh_s = result.first_fresh_s or now - t0
                        result.lags.append((now_ms() - newest) / 1000)
                if now - last_print >= 30:
                    last_print = now
                    print(
                        f"  {now - t0:5.0f} s: backlog left {unsealed:,} unsealed + {batches} batches; "
                        f"agent RSS {last.rss_kb / 1024:.1f} MB, peak {last.hwm_kb / 1024:.1f} MB",
                        flush=True,
                    )
                if unsealed == 0 and batches == 0 and not flush:
                    result.drained, result.seconds = True, now - t0
                    break
            else:
                result.seconds = time.monotonic() - t0
        wall = time.monotonic() - t0
        others = {name: s for name, s in before.items() if name != "agent"}
        result.cpu = {
            "agent": (last.cpu_s - before["agent"].cpu_s) / wall,
            **cpu_shares(others, pid_of, wall),
        }
    if peer == "collector":
        with closing(read_only(stack.store_path)) as db:
            (result.stored_backlog,) = db.execute(
                "SELECT COUNT(*) FROM readings WHERE ts_ms <= ? AND series_id IN "
                "(SELECT id FROM series WHERE gateway = ?)",
                (held.last_ts, stack.gateway),
            ).fetchone()
    return result


def report(args: argparse.Namespace, held: backlog.Backlog, d: Drain) -> None:
    n = held.readings
    label = {
        "collector": "drain into the real collector (SQLite store)",
        "confirm_peer": "drain into the confirm-only peer (no store)",
        "flush": "`edge-agent flush` (no polling) into the real collector",
    }[d.peer]
    print(f"\n{label}:")
    if not d.drained:
        print(f"  NOT DRAINED within {args.timeout:.0f} s")
    print(
        f"  drain rate: {d.rate(n):,.0f} readings/s "
        f"({n:,} readings in {d.seconds:,.1f} s from the agent's start)"
    )
    if d.first_confirm_s is not None:
        print(f"  first batch confirmed {d.first_confirm_s:.1f} s after the agent's start")
    if d.first_fresh_s is not None:
        print(f"  first fresh reading stored {d.first_fresh_s:.1f} s after the agent's start (live first)")
    if d.lags:
        lags = sorted(d.lags)
        print(
            "  live lag while draining (age of the newest stored reading): "
            f"median {lags[len(lags) // 2]:.1f} s, 99th percentile {lags[int(len(lags) * 0.99)]:.1f} s, "
            f"max {lags[-1]:.1f} s"
        )
    print(
        f"  agent peak RSS (highest VmHWM sampled) {d.hwm_kb / 1024:.1f} MB; "
        f"highest VmRSS sampled {d.rss_max_kb / 1024:.1f} MB"
    )
    print("  CPU over the drain (share of one core): " + ", ".join(f"{k} {v:.0%}" for k, v in d.cpu.items()))
    if d.stored_backlog is not None:
        verdict = "all of them, once" if d.stored_backlog == n else f"MISMATCH: {n:,} wanted"
        print(f"  backlog readings in the store afterwards: {d.stored_backlog:,} ({verdict})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--readings", type=int, default=10_000_000, help="backlog size")
    ap.add_argument("--luminaires", type=int, default=50)
    ap.add_argument("--batch", type=int, default=500, help="uplink.batch_max_readings")
    ap.add_argument("--window", type=int, default=8, help="uplink.in_flight_batches")
    ap.add_argument("--health-interval", type=float, default=HEALTH_INTERVAL_S, help="health_interval_s")
    ap.add_argument("--max-bytes", type=int, default=2 << 30, help="buffer.max_bytes (the disk cap)")
    ap.add_argument("--idle-warmup", type=float, default=20)
    ap.add_argument("--idle-seconds", type=float, default=20)
    ap.add_argument("--timeout", type=float, default=None, help="per drain, s (default: generous)")
    ap.add_argument("--page-size", type=int, default=None, help="build the buffer with this page size")
    ap.add_argument("--no-ceiling", action="store_true", help="skip the confirm-only drain")
    ap.add_argument("--flush", action="store_true", help="also time `edge-agent flush` on the backlog")
    ap.add_argument("--workdir", type=Path, default=None, help="parent of the temporary folder")
    args = ap.parse_args()
    args.timeout = args.timeout or max(600.0, args.readings / 2000)
    exit_on_signals()
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-drain-", dir=args.workdir) as tmp:
        work = Path(tmp)
        held = backlog.build(
            work / "backlog.db",
            args.readings,
            gateway="cab-e2e",
            luminaires=args.luminaires,
            health_interval_s=args.health_interval,
            max_bytes=args.max_bytes,
            page_size=args.page_size,
            batch_readings=args.batch,
        )
        size = held.path.stat().st_size
        print(
            f"backlog: {held.readings:,} readings ({held.span_h:.1f} h of {args.luminaires} luminaires x 11 "
            f"points + _agent), {size / MB:,.0f} MB buffer file ({size / held.readings:.1f} B/reading), "
            f"built in {held.seconds:.0f} s"
        )
        print(
            f"Buffer.stats() on it (health reports, `edge-agent flush`; under the buffer's lock): "
            f"{held.stats_s:.2f} s"
        )
        # The backlog travels in its groups (>= 1,000 readings each): the limits are measured at that size.
        with closing(read_only(held.path)) as db:
            (units,) = db.execute("SELECT COUNT(DISTINCT grp) FROM chunks").fetchone()
        unit = max(1, round(held.readings / max(1, units)))
        print(f"backlog units: {units:,}, {unit:,} readings each on average")
        rows = max(150_000, unit * 300)
        sqlite_rate = max(limits.raw_sqlite(work / "raw.db", rows // unit, unit) for _ in range(3))
        print(
            f"raw SQLite insert (store's rows, 1 commit per {unit}, WAL, FULL; best of 3): "
            f"{sqlite_rate:,.0f} readings/s"
        )
        limit = limits.collector(work, unit, args.window, rows // unit)
        print(f"collector ingest limit (batches of {unit}, {args.window} in flight): {limit:,.0f} readings/s")
        base = idle(work, args)
        print(
            f"idle agent (empty buffer, {args.idle_warmup:.0f} s warm-up): RSS {base.rss_kb / 1024:.1f} MB "
            f"(median over {args.idle_seconds:.0f} s), peak {base.hwm_kb / 1024:.1f} MB; CPU {base.cpu:.1%}; "
            f"live lag {base.lag_s:.1f} s"
        )
        full = drain(work, args, held, "collector")
        report(args, held, full)
        ceiling = None if args.no_ceiling else drain(work, args, held, "confirm_peer")
        if ceiling is not None:
            report(args, held, ceiling)
        flushed = drain(work, args, held, "collector", flush=True) if args.flush else None
        if flushed is not None:
            report(args, held, flushed)
    n = held.readings
    growth = (full.hwm_kb - base.rss_kb) / 1024
    print(
        f"\npeak RSS while draining - idle RSS: {growth:+.1f} MB "
        f"(aim: at most +{AIM_MB} MB): {'HOLDS' if growth <= AIM_MB else 'MISSED'}"
    )
    print(f"drain rate / collector ingest limit: {full.rate(n) / limit:.2f}")
    print(f"drain rate / raw SQLite insert: {full.rate(n) / sqlite_rate:.2f}")
    if ceiling is not None:
        print(f"drain rate / confirm-only ceiling: {full.rate(n) / ceiling.rate(n):.2f}")
        print(f"confirm-only ceiling / collector ingest limit: {ceiling.rate(n) / limit:.2f}")
    if flushed is not None:
        print(
            f"`edge-agent flush` rate / the running agent's drain rate: {flushed.rate(n) / full.rate(n):.2f}"
        )


if __name__ == "__main__":
    main()
