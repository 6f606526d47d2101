"""What the buffer gives up when it must, and how it counts it: bounds by bytes and by age.

``when_full`` (the disk cap, checked after commits once the file passes ``high_water`` of it):

- ``drop_oldest``: delete the oldest readings;
- ``thin``: in the oldest half of the unsent readings, keep every ``thin_keep``-th reading of each
  series and delete the others — but only plain measurements: a reading that is not good, not a number,
  a boolean, an ``online`` point, or an integer that differs from the reading before it (a state or
  alarm change) is never thinned. When thinning frees nothing, the oldest readings go instead.

"The oldest" is the oldest data wherever it waits: a sealed, unconfirmed batch goes whole when its
oldest reading is older than the oldest unsent one.
Readings older than ``max_age_s`` are deleted too. Every deletion adds to a counter by reason
(``dropped_buffer_full``, ``dropped_thinned``, ``dropped_age``), which the agent reports to the centre
as points of ``_agent``: a bound costs data only in the open.
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
    WITH old AS (SELECT id FROM readings ORDER BY id LIMIT ?),
    ranked AS (
        SELECT r.id, r.value, r.quality, r.is_bool,
               ROW_NUMBER() OVER (PARTITION BY r.series ORDER BY r.id) AS k,
               LAG(r.value) OVER (PARTITION BY r.series ORDER BY r.id) AS prev
        FROM readings r JOIN series s ON s.id = r.series
        WHERE r.id <= (SELECT MAX(id) FROM old) AND s.point != 'online'
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


async def thin(db: aiosqlite.Connection, unsealed: int, keep: int) -> int:
    cur = await db.execute(THIN_SQL, (max(1, unsealed // 2), keep))
    return cur.rowcount


async def drop_oldest_batch(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT seq, readings FROM batches ORDER BY seq LIMIT 1") as cur:
        row = await cur.fetchone()
    if row is None:
        return 0
    await db.execute("DELETE FROM batches WHERE seq = ?", (row[0],))
    return int(row[1])


async def oldest_is_sealed(db: aiosqlite.Connection) -> bool:
    """Whether the oldest reading in the buffer sits in a sealed batch rather than among the unsent."""
    async with db.execute(
        "SELECT (SELECT MIN(oldest_ts) FROM batches), (SELECT ts FROM readings ORDER BY id LIMIT 1)"
    ) as cur:
        row = await cur.fetchone()
    sealed, unsent = row if row else (None, None)
    return sealed is not None and (unsent is None or sealed <= unsent)


async def drop_older_than(db: aiosqlite.Connection, ts_ms: int) -> int:
    cur = await db.execute("DELETE FROM readings WHERE ts < ?", (ts_ms,))
    return cur.rowcount


async def used_bytes(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA page_count") as cur:
        pages = (await cur.fetchone() or (0,))[0]
    async with db.execute("PRAGMA freelist_count") as cur:
        free = (await cur.fetchone() or (0,))[0]
    async with db.execute("PRAGMA page_size") as cur:
        size = (await cur.fetchone() or (4096,))[0]
    return int((pages - free) * size)
