"""What the buffer holds, for the status server, the health report and ``edge-agent flush``."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from edge_agent.buffer.chunks import SealedBatch, summary
from edge_agent.buffer.database import scalar
from edge_agent.buffer.disk import DiskSpace
from edge_agent.buffer.groups import Depth
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
    """Read under the buffer's lock. ``chunks`` holds a row per chunk (its payload is in a table of its
    own), so the summary reads a few pages even on a 10 M backlog. ``tally``: counts not written yet;
    ``unwritten``: fresh batches sent and not written yet (both held in memory, :mod:`.tally`,
    :mod:`.live`). Units confirmed and not deleted yet still count: they leave with the next commit."""
    units, readings, oldest_c, _ = await summary(db, depth.open_group)
    pages = int(await scalar(db, "PRAGMA page_count"))
    async with db.execute("SELECT name, value FROM counters") as cur:
        stored = {str(n): int(v) for n, v in await cur.fetchall()}
    counters = {c: stored.get(c, 0) for c in BUFFER}
    counters[Counter.DROPPED_DISK_FULL] += refusals.uncounted
    for name, n in tally.items():
        counters[name] += n
    oldest_u = min((b.oldest_ts for b in unwritten), default=None)
    oldest = min((t for t in (oldest_c, oldest_u) if t is not None), default=None)
    return BufferStats(
        depth.unsealed,
        units + len(unwritten),
        readings + sum(b.readings for b in unwritten),
        oldest,
        pages * space.plan.page_size,
        counters,
        cap_bytes=space.cap,
        disk_free_bytes=None if space.usage is None else space.usage.free,
        disk_full=space.full,
    )
