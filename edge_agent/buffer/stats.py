"""What the buffer holds, for the status server, the health report and ``edge-agent flush``."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from edge_agent.buffer.batches import SealedBatch
from edge_agent.buffer.bounds import Depth
from edge_agent.buffer.database import row, scalar
from edge_agent.buffer.disk import DiskSpace
from edge_agent.buffer.refusals import Refusals
from edge_agent.counters import BUFFER, Counter


@dataclass(frozen=True, slots=True)
class BufferStats:
    unsealed: int
    sealed_batches: int
    sealed_readings: int
    oldest_ts: int | None
    bytes: int
    counters: dict[Counter, int]  # every one of the buffer's, by its name
    cap_bytes: int = 0  # the cap in force: buffer.max_bytes, or less when the disk has less room
    disk_free_bytes: int | None = None  # free on the buffer's filesystem at the last look
    disk_full: bool = False  # a disk-full episode is on


async def read_stats(
    db: aiosqlite.Connection,
    *,
    depth: Depth,
    space: DiskSpace,
    refusals: Refusals,
    tally: dict[Counter, int],
    unwritten: list[SealedBatch],
) -> BufferStats:
    """Read under the buffer's lock. The unsealed count is kept by every insert, seal and drop (``depth``):
    COUNT(*) and MIN(ts) read the whole table (0.6 s on 10 M readings, under the lock the uplink needs),
    and stats are read every health period. ``tally``: counts not written yet; ``unwritten``: fresh
    batches sent and not written yet (both held in memory, :mod:`.tally`, :mod:`.live`)."""
    nb, nr, oldest_b = await row(
        db, "SELECT COUNT(*), COALESCE(SUM(readings), 0), MIN(oldest_ts) FROM batches"
    )
    oldest_r = await scalar(db, "SELECT ts FROM readings ORDER BY id LIMIT 1")  # the first committed
    pages = int(await scalar(db, "PRAGMA page_count"))
    async with db.execute("SELECT name, value FROM counters") as cur:
        stored = {str(n): int(v) for n, v in await cur.fetchall()}
    counters = {c: stored.get(c, 0) for c in BUFFER}
    counters[Counter.DROPPED_DISK_FULL] += refusals.uncounted
    for name, n in tally.items():
        counters[name] += n
    oldest_u = min((b.oldest_ts for b in unwritten), default=None)
    oldest = min((t for t in (oldest_b, oldest_r, oldest_u) if t is not None), default=None)
    return BufferStats(
        depth.unsealed,
        int(nb) + len(unwritten),
        int(nr) + sum(b.readings for b in unwritten),
        oldest,
        pages * space.plan.page_size,
        counters,
        cap_bytes=space.cap,
        disk_free_bytes=None if space.usage is None else space.usage.free,
        disk_full=space.full,
    )
