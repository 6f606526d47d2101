"""The agent's buffer at a cabinet's load, replayed in-process at full speed, every write accounted for.

The agent's own :class:`Buffer` receives what a cabinet commits (bench/backlog.py's readings: 50
luminaires x 11 points a second and the ``_agent`` points), in the transactions the agent makes when its
uplink is busy (the window full, so nothing leaves before its commit: the costly case; an idle uplink
writes almost nothing, BENCHMARKS.md): one group commit per ``commit_interval_s``, which writes the
readings as chunks of at most ``batch_max`` and deletes what the collector confirmed since the last
one; the collector's confirmation of each unit (an ``ack``, which writes nothing itself). Simulated
time runs as fast as the disk allows. ``linger_s`` is no longer used (buffer schema 3).

After each transaction: the bytes the process caused to be written (``/proc/self/io``), the WAL frames
it appended (bench/walwatch.py) and, through SQLite's ``dbstat`` table, what each frame's page holds
(a table's leaf or interior page, a payload's overflow page, the freelist, the file header).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bench.backlog import readings
from bench.stackrun import new_buffer_file, read_only
from bench.walwatch import WalWatch
from edge_agent.buffer.store import Buffer
from edge_agent.clock import SystemClock
from harness.procstat import io_sample
from wire.points import Reading

KINDS = ("append", "seal", "ack")
T = TypeVar("T")


@dataclass(frozen=True)
class Mix:
    luminaires: int = 50
    health_interval_s: float = 5.0
    commit_interval_s: float = 0.5
    batch_max: int = 500
    linger_s: float = 0.2
    page_size: int = 4096  # the agent creates its buffer with SQLite's default, 4096


@dataclass
class Replay:
    mix: Mix
    seconds: float = 0.0  # simulated
    committed: int = 0
    transactions: Counter[str] = field(default_factory=Counter)  # kind -> how many
    write_bytes: Counter[str] = field(default_factory=Counter)  # kind -> bytes, checkpoints apart
    frames: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, page role) -> frames
    checkpoints: int = 0
    checkpoint_pages: int = 0
    checkpoint_bytes: int = 0
    wal_max_bytes: int = 0

    def per_day(self, n: float) -> float:
        return n * 86_400 / self.seconds

    @property
    def total_bytes(self) -> int:
        return sum(self.write_bytes.values()) + self.checkpoint_bytes


def _page_roles(db: sqlite3.Connection) -> dict[int, str]:
    roles = {1: "file header (page 1)"}
    for page, name, kind in db.execute("SELECT pageno, name, pagetype FROM dbstat"):
        if page != 1:
            roles[page] = f"{name} {kind}"
    return roles


def _ticks(mix: Mix, seconds: float) -> Iterator[list[Reading]]:
    """The readings of each group commit, oldest first."""
    start = 1_767_225_600_000
    per_tick = int(mix.commit_interval_s * 1000)
    source = readings(
        1 << 40, luminaires=mix.luminaires, health_interval_s=mix.health_interval_s, end_ms=start + (1 << 50)
    )
    first = next(source)
    t0, pending = first.ts_ms, [first]
    for k in range(1, int(seconds / mix.commit_interval_s) + 1):
        limit = t0 + k * per_tick
        for r in source:
            if r.ts_ms >= limit:
                yield pending
                pending = [r]
                break
            pending.append(r)


class _Uplink:
    """The transactions of the agent's uplink at this load, with every write accounted to its kind."""

    def __init__(self, buf: Buffer, mix: Mix, out: Replay, db: sqlite3.Connection) -> None:
        self.buf, self.mix, self.out, self.db = buf, mix, out, db
        self.watch = WalWatch(buf_path(db))

    async def step(self, kind: str, op: Awaitable[T]) -> T:
        out, watch = self.out, self.watch
        before = io_sample(os.getpid()).stored
        checkpoints, pages = watch.counts.checkpoints, watch.counts.pages_checkpointed
        result = await op
        written = io_sample(os.getpid()).stored - before
        frames = watch.poll()
        roles = _page_roles(self.db) if frames else {}
        out.frames.update((kind, roles.get(page, "freelist")) for page, _ in frames)
        out.transactions[kind] += sum(1 for _, commit in frames if commit)
        if watch.counts.checkpoints > checkpoints:  # this commit ran the automatic checkpoint
            copied = min(written, (watch.counts.pages_checkpointed - pages) * watch.page_size)
            out.checkpoint_bytes += copied
            written -= copied
        out.write_bytes[kind] += written
        out.wal_max_bytes = max(out.wal_max_bytes, watch.wal_bytes())
        return result

    async def wake(self, now: float) -> None:
        """The uplink sends the units the commit wrote (each commit's chunk is one: the link is up, the
        window was full), and the collector confirms each (one ``ack`` each, which writes nothing: the
        next group commit deletes them)."""
        for unit in await self.buf.sealed():
            await self.step("ack", self.buf.ack([unit.key.seq]))


def buf_path(db: sqlite3.Connection) -> Path:
    return Path(db.execute("PRAGMA database_list").fetchone()[2])


async def run(path: Path, mix: Mix, seconds: float) -> Replay:
    """Replay ``seconds`` of the cabinet's load into a new buffer at ``path``."""
    out = Replay(mix)
    new_buffer_file(path, mix.page_size)
    buf = await Buffer.open(
        path, gateway="cab-replay", clock=SystemClock(), commit_interval_s=0, batch_readings=mix.batch_max
    )
    buf.online = True  # the busy uplink: every commit writes its readings as units of their own
    try:
        with closing(read_only(path)) as db:
            uplink = _Uplink(buf, mix, out, db)
            now = 0.0
            for tick in _ticks(mix, seconds):
                now += mix.commit_interval_s
                await uplink.step("append", buf.append(tick))
                out.committed += len(tick)
                await uplink.wake(now)
            out.seconds = now
            counts = uplink.watch.counts
            out.checkpoints, out.checkpoint_pages = counts.checkpoints, counts.pages_checkpointed
    finally:
        await buf.close()
    return out


def replay(path: Path, mix: Mix, seconds: float) -> Replay:
    return asyncio.run(run(path, mix, seconds))
