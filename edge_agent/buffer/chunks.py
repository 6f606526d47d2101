"""Chunks: what the buffer writes is what it sends, once.

A chunk is the readings of one group commit (at most ``batch_readings`` of them), encoded as the exact
bytes of a telemetry batch payload under its own key ``(epoch, seq)``: a row of ``chunks`` (the key,
its group, counts and times) and one of ``payloads`` (the bytes). No reading is ever a row of its own,
so nothing is copied later and nothing but a confirmed (or given up) chunk is deleted.

A **unit** is what the uplink sends and the collector confirms: all the chunks of one group ``grp``.
A chunk committed while the uplink is connected is a unit of its own (``grp = seq``), sent as written.
Chunks committed while it is not join the open **backlog group** (:mod:`.groups`) until it holds at
least ``group_readings``; the group is then closed and travels as one batch under the key of its first
chunk: the chunks' readings in ``seq`` order, merged by :func:`wire.telemetry.merge_batches` — the
same bytes every time it is sent, after any crash, since a closed group never changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiosqlite

from wire.points import Reading
from wire.telemetry import BatchKey, encode_batch, merge_batches


@dataclass(frozen=True, slots=True)
class SealedBatch:
    """A unit ready to send: its key (the group's), its readings, its oldest timestamp, its bytes."""

    key: BatchKey
    readings: int
    oldest_ts: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Chunk:
    seq: int
    grp: int
    created_ms: int
    readings: int
    oldest_ts: int
    newest_ts: int
    payload: bytes

    @classmethod
    def encode(cls, key: BatchKey, grp: int, created_ms: int, readings: Sequence[Reading]) -> Chunk:
        stamps = [r.ts_ms for r in readings]
        return cls(
            key.seq, grp, created_ms, len(readings), min(stamps), max(stamps), encode_batch(key, readings)
        )

    @classmethod
    def of_batch(cls, batch: SealedBatch, created_ms: int, newest_ts: int) -> Chunk:
        """A batch sent before it was written (:mod:`.live`): a unit of its own, the same bytes."""
        seq = batch.key.seq
        return cls(seq, seq, created_ms, batch.readings, batch.oldest_ts, newest_ts, batch.payload)


async def insert(db: aiosqlite.Connection, chunks: Sequence[Chunk]) -> None:
    if not chunks:
        return
    await db.executemany(
        "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)",
        [(c.seq, c.grp, c.created_ms, c.readings, c.oldest_ts, c.newest_ts) for c in chunks],
    )
    await db.executemany("INSERT INTO payloads VALUES (?, ?)", [(c.seq, c.payload) for c in chunks])


def _marks(n: int) -> str:
    return ",".join("?" * n)


async def readings_in(db: aiosqlite.Connection, grps: Sequence[int]) -> int:
    async with db.execute(
        f"SELECT COALESCE(SUM(readings), 0) FROM chunks WHERE grp IN ({_marks(len(grps))})", tuple(grps)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def delete_units(db: aiosqlite.Connection, grps: Sequence[int]) -> int:
    """Delete every chunk of these groups; the readings deleted."""
    if not grps:
        return 0
    n = await readings_in(db, grps)
    marks = _marks(len(grps))
    await db.execute(
        f"DELETE FROM payloads WHERE seq IN (SELECT seq FROM chunks WHERE grp IN ({marks}))", tuple(grps)
    )
    await db.execute(f"DELETE FROM chunks WHERE grp IN ({marks})", tuple(grps))
    return n


async def delete_chunks(db: aiosqlite.Connection, seqs: Sequence[int]) -> int:
    if not seqs:
        return 0
    marks = _marks(len(seqs))
    async with db.execute(
        f"SELECT COALESCE(SUM(readings), 0) FROM chunks WHERE seq IN ({marks})", tuple(seqs)
    ) as cur:
        row = await cur.fetchone()
    await db.execute(f"DELETE FROM payloads WHERE seq IN ({marks})", tuple(seqs))
    await db.execute(f"DELETE FROM chunks WHERE seq IN ({marks})", tuple(seqs))
    return int(row[0]) if row else 0


Parts = dict[int, list[tuple[int, int, int, bytes]]]  # grp -> (seq, readings, oldest_ts, payload) in order


async def load_units(
    db: aiosqlite.Connection, gateway: str, epoch: str, grps: Sequence[int]
) -> list[SealedBatch]:
    """The units of these groups that still exist, in the order asked, each as one batch."""
    return units_of(gateway, epoch, grps, await load_parts(db, grps))


def units_of(gateway: str, epoch: str, grps: Sequence[int], parts: Parts) -> list[SealedBatch]:
    """The batches of :func:`load_parts`' groups, in the order asked (merging is CPU work: callers do it
    after they gave the connection's lock back)."""
    return [unit(gateway, epoch, g, parts[g]) for g in grps if g in parts]


async def load_parts(db: aiosqlite.Connection, grps: Sequence[int]) -> Parts:
    """The chunks of these groups that still exist, by group, in ``seq`` order."""
    if not grps:
        return {}
    async with db.execute(
        f"SELECT c.grp, c.seq, c.readings, c.oldest_ts, p.payload FROM chunks c "
        f"JOIN payloads p ON p.seq = c.seq WHERE c.grp IN ({_marks(len(grps))}) ORDER BY c.grp, c.seq",
        tuple(grps),
    ) as cur:
        rows = list(await cur.fetchall())
    parts: Parts = {}
    for grp, seq, n, oldest, payload in rows:
        parts.setdefault(int(grp), []).append((int(seq), int(n), int(oldest), bytes(payload)))
    return parts


def unit(gateway: str, epoch: str, grp: int, parts: Sequence[tuple[int, int, int, bytes]]) -> SealedBatch:
    """A group's batch: a lone chunk under its own key is sent as written; more are merged."""
    key = BatchKey(gateway, epoch, grp)
    readings = sum(p[1] for p in parts)
    oldest = min(p[2] for p in parts)
    if len(parts) == 1 and parts[0][0] == grp:
        return SealedBatch(key, readings, oldest, parts[0][3])
    return SealedBatch(key, readings, oldest, merge_batches(key, [p[3] for p in parts]))


async def unit_ids(
    db: aiosqlite.Connection, *, after: int, upto: int, open_group: int, limit: int
) -> list[int]:
    """Closed groups with ``after < grp <= upto``, oldest first (the open group is never sent)."""
    async with db.execute(
        "SELECT DISTINCT grp FROM chunks WHERE grp > ? AND grp <= ? AND grp != ? ORDER BY grp LIMIT ?",
        (after, upto, open_group, limit),
    ) as cur:
        return [int(g) for (g,) in await cur.fetchall()]


async def summary(db: aiosqlite.Connection, open_group: int) -> tuple[int, int, int | None, int]:
    """(closed units, their readings, the oldest timestamp of all, readings in the open group)."""
    async with db.execute(
        "SELECT COUNT(DISTINCT CASE WHEN grp != ?1 THEN grp END), "
        "COALESCE(SUM(CASE WHEN grp != ?1 THEN readings END), 0), MIN(oldest_ts), "
        "COALESCE(SUM(CASE WHEN grp = ?1 THEN readings END), 0) FROM chunks",
        (open_group,),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), None if row[2] is None else int(row[2]), int(row[3])


def readings_of(batches: Iterable[SealedBatch]) -> int:
    return sum(b.readings for b in batches)
