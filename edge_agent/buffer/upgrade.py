"""A buffer file of an older schema, brought to chunks in place (in the caller's transaction).

Schema 1 kept ``meta.next_seq``, the next key to seal; schema 2 ``meta.seq_reserved``, the highest key
the agent may ever have used. Both kept a row per unsent reading (``readings``, ``series``) and a row
per sealed batch (``batches``). The upgrade:

- a sealed batch may have been sent: it becomes a unit of its own under its own key, with its own
  bytes (the collector may hold it already and recognises it);
- unsent readings were never sent: they become closed backlog groups of :data:`GROUP_READINGS`
  (one chunk each), in their order, under new keys past every key the old file used;
- the dead letter and the counters stay (the unsent readings, now in closed groups, are counted as
  sealed, as a commit that closes a group counts them); ``seq_reserved`` covers every key written.
"""

from __future__ import annotations

import aiosqlite
import msgpack

from edge_agent.buffer.chunks import Chunk, insert
from edge_agent.counters import Counter
from wire.points import Quality, Reading
from wire.telemetry import BatchKey

GROUP_READINGS = 1000


async def _one(db: aiosqlite.Connection, sql: str) -> int:
    async with db.execute(sql) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


async def upgrade_to_chunks(db: aiosqlite.Connection, version: int, gateway: str) -> str:
    """Move the old tables into chunks; returns what it did, for the log."""
    async with db.execute("SELECT value FROM meta WHERE key = 'epoch'") as cur:
        epoch = str((await cur.fetchone() or ("",))[0])
    used = max(
        await _one(db, "SELECT CAST(value AS INTEGER) - 1 FROM meta WHERE key = 'next_seq'"),
        await _one(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'seq_reserved'"),
        await _one(db, "SELECT MAX(seq) FROM batches"),
        await _one(db, "SELECT MAX(seq) FROM dead_letter"),
    )
    sealed = 0
    async with db.execute("SELECT seq, created_ms, readings, oldest_ts, payload FROM batches") as cur:
        batches = list(await cur.fetchall())
    for seq, created, n, oldest, payload in batches:
        stamps = [row[1] for row in msgpack.unpackb(payload, raw=False)["r"]]
        await insert(
            db, [Chunk(int(seq), int(seq), int(created), int(n), int(oldest), max(stamps), bytes(payload))]
        )
        sealed += int(n)
    seq, unsent, now = used, 0, await _one(db, "SELECT CAST(strftime('%s', 'now') AS INTEGER) * 1000")
    async with db.execute(
        "SELECT s.device, s.point, r.ts, r.value, r.is_bool, r.quality, r.reason "
        "FROM readings r JOIN series s ON s.id = r.series ORDER BY r.id"
    ) as cur:
        while rows := list(await cur.fetchmany(GROUP_READINGS)):
            seq += 1
            readings = [
                Reading(d, p, int(ts), bool(v) if is_bool else v, Quality(q), reason)
                for d, p, ts, v, is_bool, q, reason in rows
            ]
            await insert(db, [Chunk.encode(BatchKey(gateway, epoch, seq), seq, now, readings)])
            unsent += len(readings)
    if unsent:  # in closed groups now: sealed — under the counter's name in this file (renamed later)
        sealed_as = (str(Counter.SEALED), Counter.SEALED.name.lower())
        cur = await db.execute(
            "UPDATE counters SET value = value + ? WHERE name IN (?, ?)", (unsent, *sealed_as)
        )
        if cur.rowcount == 0:
            await db.execute("INSERT INTO counters VALUES (?, ?)", (sealed_as[0], unsent))
    await db.execute("INSERT OR REPLACE INTO meta VALUES ('seq_reserved', ?)", (str(seq),))
    await db.execute("INSERT OR REPLACE INTO meta VALUES ('open_group', '0')")
    await db.execute("DELETE FROM meta WHERE key = 'next_seq'")
    for table in ("readings", "batches", "series"):
        await db.execute(f"DROP TABLE IF EXISTS {table}")
    return (
        f"schema {version}: {len(batches)} sealed batches ({sealed} readings) kept under their keys, "
        f"{unsent} unsent readings in backlog groups, keys used up to {seq}"
    )
