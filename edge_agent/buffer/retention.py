"""What the buffer gives up when it must, and how it counts it: bounds by bytes and by age.

``when_full`` (the cap: ``buffer.max_bytes``, or less when the filesystem has less room — see
:mod:`edge_agent.buffer.disk`; checked after commits once the file passes ``high_water`` of it, and
whenever a write finds no space):

- ``drop_oldest``: delete the oldest readings;
- ``thin``: in the oldest half of the unsent readings, keep every ``thin_keep``-th reading of each
  series and delete the others — but only plain measurements: a reading that is not good, not a number,
  a boolean, an ``online`` point, or an integer that differs from the reading before it (a state or
  alarm change) is never thinned. When thinning frees nothing, the oldest readings go instead.

"The oldest" is the oldest data wherever it waits: a sealed, unconfirmed batch goes whole when its
oldest reading is older than the oldest unsent one.
Readings older than ``max_age_s`` are deleted too. Every deletion adds to a counter by reason
(``readings_dropped_buffer_full_total``, ``readings_dropped_thinned_total``,
``readings_dropped_age_total``), which the agent reports to the centre as points of ``_agent``: a bound
costs data only in the open.

Each function here is one bounded step (a range of ids, a number of rows, a byte budget): every page it
frees is a frame in the write-ahead log, so the buffer gives data up in steps small enough for the WAL
room it keeps, each step in its own transaction, each counted in the transaction that makes it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import aiosqlite


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


THIN_SQL = """
DELETE FROM readings WHERE id IN (
    WITH ranked AS (
        SELECT r.id, r.value, r.quality, r.is_bool,
               ROW_NUMBER() OVER (PARTITION BY r.series ORDER BY r.id) AS k,
               LAG(r.value) OVER (PARTITION BY r.series ORDER BY r.id) AS prev
        FROM readings r JOIN series s ON s.id = r.series
        WHERE r.id > ? AND r.id <= ? AND s.point != 'online'
    )
    SELECT id FROM ranked
    WHERE quality = 0 AND is_bool = 0 AND k % ? != 0
      AND (typeof(value) = 'real' OR (typeof(value) = 'integer' AND value IS prev))
)
"""


async def drop_oldest(db: aiosqlite.Connection, n: int) -> int:
    cur = await db.execute(
        "DELETE FROM readings WHERE id IN (SELECT id FROM readings ORDER BY id LIMIT ?)", (n,)
    )
    return cur.rowcount


async def thin(db: aiosqlite.Connection, after_id: int, upto_id: int, keep: int) -> int:
    """Thin the unsent readings with ids in ``(after_id, upto_id]``; returns how many it deleted."""
    cur = await db.execute(THIN_SQL, (after_id, upto_id, keep))
    return cur.rowcount


async def nth_id(db: aiosqlite.Connection, after_id: int, n: int) -> int | None:
    """The id of the ``n``-th unsent reading after ``after_id`` (the last one if there are fewer)."""
    async with db.execute(
        "SELECT MAX(id) FROM (SELECT id FROM readings WHERE id > ? ORDER BY id LIMIT ?)", (after_id, n)
    ) as cur:
        row = await cur.fetchone()
    return None if row is None or row[0] is None else int(row[0])


async def drop_oldest_batches(db: aiosqlite.Connection, budget_bytes: int) -> int:
    """Delete the oldest sealed batches, whole: at least one, then more while their payloads fit in
    ``budget_bytes`` and they are still older than the oldest unsent reading. Returns their readings."""
    async with db.execute("SELECT ts FROM readings ORDER BY id LIMIT 1") as cur:
        row = await cur.fetchone()
    unsent = None if row is None else int(row[0])
    async with db.execute(
        "SELECT seq, readings, length(payload), oldest_ts FROM batches ORDER BY seq LIMIT 1000"
    ) as cur:
        batches = list(await cur.fetchall())
    seqs: list[int] = []
    readings = spent = 0
    for seq, n, size, oldest in batches:
        if seqs and (spent + size > budget_bytes or (unsent is not None and oldest > unsent)):
            break
        seqs.append(int(seq))
        readings += int(n)
        spent += int(size)
    if seqs:
        await db.execute(f"DELETE FROM batches WHERE seq IN ({','.join('?' * len(seqs))})", seqs)
    return readings


async def oldest_is_sealed(db: aiosqlite.Connection) -> bool:
    """Whether the oldest reading in the buffer sits in a sealed batch rather than among the unsent."""
    async with db.execute(
        "SELECT (SELECT MIN(oldest_ts) FROM batches), (SELECT ts FROM readings ORDER BY id LIMIT 1)"
    ) as cur:
        row = await cur.fetchone()
    sealed, unsent = row if row else (None, None)
    return sealed is not None and (unsent is None or sealed <= unsent)


async def drop_older_than(db: aiosqlite.Connection, ts_ms: int, limit: int) -> int:
    cur = await db.execute(
        "DELETE FROM readings WHERE id IN (SELECT id FROM readings WHERE ts < ? LIMIT ?)", (ts_ms, limit)
    )
    return cur.rowcount


async def used_bytes(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA page_count") as cur:
        pages = (await cur.fetchone() or (0,))[0]
    async with db.execute("PRAGMA freelist_count") as cur:
        free = (await cur.fetchone() or (0,))[0]
    async with db.execute("PRAGMA page_size") as cur:
        size = (await cur.fetchone() or (4096,))[0]
    return int((pages - free) * size)
