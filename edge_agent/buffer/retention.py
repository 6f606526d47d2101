"""What the buffer gives up when it must, and how it counts it: bounds by bytes and by age.

``when_full`` (the cap: ``buffer.max_bytes``, or less when the filesystem has less room — see
:mod:`edge_agent.buffer.disk`; checked after commits once the file passes ``high_water`` of it, and
whenever a write finds no space):

- ``drop_oldest``: delete the oldest readings;
- ``thin``: in the oldest half of the unsent readings, keep every ``thin_keep``-th reading of each
  series and delete the others — but only plain measurements: a reading that is not good, not a number,
  a boolean, an ``online`` point, or an integer that differs from the reading before it (a state or
  alarm change) is never thinned. When thinning frees nothing, the oldest readings go instead.

"The oldest" is the oldest unit (:mod:`.chunks`): one that may have been sent goes whole (a key never
names two contents), counted apart as ``readings_dropped_unconfirmed_total`` (it may be in the store);
the open backlog group, never sent, goes chunk by chunk. Only what was never sent is thinned.
Chunks whose newest reading is older than ``max_age_s`` are deleted too (units that may have been sent:
whole, once all their readings are). Every deletion adds to a counter by reason
(``readings_dropped_buffer_full_total``, ``readings_dropped_thinned_total``,
``readings_dropped_age_total``), which the agent reports to the centre as points of ``_agent``: a bound
costs data only in the open.

Each step is bounded (a number of readings): every page it
frees is a frame in the write-ahead log, so the buffer gives data up in steps small enough for the WAL
room it keeps, each step in its own transaction, each counted in the transaction that makes it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import aiosqlite

from wire.telemetry import BatchKey, decode_batch, encode_batch


class WhenFull(enum.StrEnum):
    DROP_OLDEST = "drop_oldest"
    THIN = "thin"


@dataclass(frozen=True, slots=True)
class Retention:
    when_full: WhenFull = WhenFull.DROP_OLDEST
    high_water: float = 0.9  # act when the used part of the file passes this fraction of the cap
    low_water: float = 0.75  # and free down to this fraction
    thin_keep: int = 2  # keep every n-th plain measurement
    max_age_s: float | None = None


@dataclass(slots=True)
class ThinPass:
    """Thinning the oldest half of what was never sent, chunk by chunk: ``(after, end]`` is still to do;
    each series' count and last value carry over from chunk to chunk."""

    after: int
    end: int
    freed: int = 0
    seen: dict[tuple[str, str], int] = field(default_factory=dict)
    last: dict[tuple[str, str], object] = field(default_factory=dict)

    def keeps(self, device: str, point: str, value: object, quality: int, keep: int) -> bool:
        series = (device, point)
        k = self.seen[series] = self.seen.get(series, 0) + 1
        prev, self.last[series] = self.last.get(series, _NONE), value
        if quality != 0 or point == "online" or isinstance(value, bool) or k % keep == 0:
            return True
        if isinstance(value, float):
            return False
        return not (isinstance(value, int) and value == prev and not isinstance(prev, bool))


_NONE = object()


async def units_oldest_first(
    db: aiosqlite.Connection, limit: int, *, older_than: int | None = None
) -> list[tuple[int, int]]:
    """(group, readings) of the oldest units; ``older_than``: only those whose newest reading is."""
    sql = "SELECT grp, SUM(readings), MAX(newest_ts) FROM chunks GROUP BY grp"
    args: tuple[int, ...] = (limit,)
    if older_than is not None:
        sql += " HAVING MAX(newest_ts) < ?"
        args = (older_than, limit)
    async with db.execute(sql + " ORDER BY grp LIMIT ?", args) as cur:
        return [(int(g), int(n)) for g, n, _ in await cur.fetchall()]


async def chunks_of(
    db: aiosqlite.Connection, grp: int, *, older_than: int | None = None
) -> list[tuple[int, int]]:
    """(seq, readings) of a group's chunks, oldest first; ``older_than``: only those wholly older."""
    cut = 2**63 - 1 if older_than is None else older_than
    async with db.execute(
        "SELECT seq, readings FROM chunks WHERE grp = ? AND newest_ts < ? ORDER BY seq", (grp, cut)
    ) as cur:
        return [(int(s), int(n)) for s, n in await cur.fetchall()]


async def chunks_between(
    db: aiosqlite.Connection, after: int, upto: int, limit: int
) -> list[tuple[int, int, int, bytes]]:
    """(seq, group, readings, payload) of the chunks with ``after < seq <= upto``, oldest first."""
    async with db.execute(
        "SELECT c.seq, c.grp, c.readings, p.payload FROM chunks c JOIN payloads p ON p.seq = c.seq "
        "WHERE c.seq > ? AND c.seq <= ? ORDER BY c.seq LIMIT ?",
        (after, upto, limit),
    ) as cur:
        return [(int(s), int(g), int(n), bytes(p)) for s, g, n, p in await cur.fetchall()]


async def thin_chunk(
    db: aiosqlite.Connection, key: BatchKey, payload: bytes, keep: int, thin: ThinPass
) -> tuple[int, int]:
    """Thin one chunk never sent (its key names no content anywhere yet, so it may change): returns
    (readings deleted, readings left; 0 left: the chunk is gone)."""
    batch = decode_batch(payload)
    kept = [r for r in batch.readings if thin.keeps(r.device, r.point, r.value, int(r.quality), keep)]
    gone = len(batch.readings) - len(kept)
    if not gone:
        return 0, len(kept)
    if not kept:
        await db.execute("DELETE FROM payloads WHERE seq = ?", (key.seq,))
        await db.execute("DELETE FROM chunks WHERE seq = ?", (key.seq,))
        return gone, 0
    stamps = [r.ts_ms for r in kept]
    await db.execute(
        "UPDATE chunks SET readings = ?, oldest_ts = ?, newest_ts = ? WHERE seq = ?",
        (len(kept), min(stamps), max(stamps), key.seq),
    )
    await db.execute("UPDATE payloads SET payload = ? WHERE seq = ?", (encode_batch(key, kept), key.seq))
    return gone, len(kept)


async def used_bytes(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA page_count") as cur:
        pages = (await cur.fetchone() or (0,))[0]
    async with db.execute("PRAGMA freelist_count") as cur:
        free = (await cur.fetchone() or (0,))[0]
    async with db.execute("PRAGMA page_size") as cur:
        size = (await cur.fetchone() or (4096,))[0]
    return int((pages - free) * size)
