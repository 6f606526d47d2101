"""The uplink path: readings are sealed into batches (a never-reused key ``(epoch, seq)`` from the
reserved block, :mod:`.keys`, and the encoded payload, in one transaction), which leave the buffer when
the collector confirms them (``ack``: deleted) or quarantines them (``reject``: kept in
``dead_letter``, counted).

An operation that finds no room loses nothing: the readings or batches stay where they are and it is
tried again (logged once, at WARNING). Any other database error is raised.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from edge_agent.buffer.access import Access
from edge_agent.buffer.bounds import Depth
from edge_agent.buffer.database import count, no_space, scalar
from edge_agent.buffer.keys import Keys
from edge_agent.buffer.tally import Tally
from edge_agent.clock import Clock
from edge_agent.counters import Counter
from wire.points import Quality, Reading, Value
from wire.telemetry import BatchKey, encode_batch

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SealedBatch:
    key: BatchKey
    readings: int
    oldest_ts: int
    payload: bytes


class Batches:
    def __init__(
        self,
        *,
        access: Access,
        gateway: str,
        epoch: str,
        clock: Clock,
        depth: Depth,
        keys: Keys,
        tally: Tally,
    ) -> None:
        self._access = access
        self._keys = keys
        self._tally = tally  # routine counts, written with the next group commit
        self._gateway = gateway
        self._epoch = epoch
        self._clock = clock
        self._depth = depth
        self._quiet: set[str] = set()  # operations that found no room (logged once)

    async def seal(self, max_readings: int, after_id: int | None, upto_id: int | None) -> SealedBatch | None:
        """See :meth:`edge_agent.buffer.store.Buffer.seal`."""
        try:
            batch = await self._seal(max_readings, after_id, upto_id)
        except sqlite3.OperationalError as exc:
            if not no_space(exc):
                raise
            self._no_room_for("seal", exc)
            return None
        self._quiet.discard("seal")
        return batch

    async def _seal(self, max_readings: int, after_id: int | None, upto_id: int | None) -> SealedBatch | None:
        lo = -1 if after_id is None else after_id
        hi = 2**63 - 1 if upto_id is None else upto_id
        async with self._access.transaction() as db:
            async with db.execute(
                "SELECT r.id, s.device, s.point, r.ts, r.value, r.is_bool, r.quality, r.reason "
                "FROM readings r JOIN series s ON s.id = r.series WHERE r.id > ? AND r.id <= ? "
                "ORDER BY r.id LIMIT ?",
                (lo, hi, max_readings),
            ) as cur:
                rows = list(await cur.fetchall())
            if not rows:
                return None
            seq = self._keys.take()
            readings = [
                Reading(dev, pt, ts, _value(v, is_bool), Quality(q), reason)
                for _, dev, pt, ts, v, is_bool, q, reason in rows
            ]
            key = BatchKey(self._gateway, self._epoch, seq)
            payload = encode_batch(key, readings)
            oldest = min(r.ts_ms for r in readings)
            await db.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?)",
                (seq, self._clock.now_ms(), len(rows), oldest, payload),
            )
            await db.execute("DELETE FROM readings WHERE id BETWEEN ? AND ?", (rows[0][0], rows[-1][0]))
            reserved = await self._keys.cover(db, seq)
        self._keys.covered(reserved)
        self._tally.add(Counter.SEALED, len(rows))
        self._depth.unsealed -= len(rows)
        return SealedBatch(key, len(rows), oldest, payload)

    async def sealed(self, limit: int) -> list[SealedBatch]:
        async with (
            self._access.locked() as db,
            db.execute(
                "SELECT seq, readings, oldest_ts, payload FROM batches ORDER BY seq LIMIT ?", (limit,)
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [SealedBatch(BatchKey(self._gateway, self._epoch, s), n, o, p) for s, n, o, p in rows]

    async def finish(self, seqs: Sequence[int], counter: Counter, reason: str | None) -> int:
        """Retire batches (``reason`` given: into ``dead_letter``); the readings that left, counted under
        ``counter`` — 0 when there was no room to record it (tried again when confirmed again)."""
        if not seqs:
            return 0
        try:
            n = await self._retire(seqs, counter, reason)
        except sqlite3.OperationalError as exc:
            if not no_space(exc):
                raise
            self._no_room_for(counter.name.lower(), exc)
            return 0
        self._quiet.discard(counter.name.lower())
        return n

    def _no_room_for(self, what: str, exc: Exception) -> None:
        """An uplink operation found no space: nothing is lost (it is tried again), so WARNING, once."""
        (log.debug if what in self._quiet else log.warning)(
            "buffer: no room to record %s batches (%s); nothing is lost, it is tried again", what, exc
        )
        self._quiet.add(what)

    async def _retire(self, seqs: Sequence[int], counter: Counter, reason: str | None) -> int:
        marks = ",".join("?" * len(seqs))
        async with self._access.transaction() as db:
            n = int(
                await scalar(
                    db, f"SELECT COALESCE(SUM(readings), 0) FROM batches WHERE seq IN ({marks})", tuple(seqs)
                )
            )
            if reason is not None:
                await db.execute(
                    f"INSERT OR IGNORE INTO dead_letter SELECT seq, ?, readings, ?, payload FROM batches "
                    f"WHERE seq IN ({marks})",
                    (self._clock.now_ms(), reason, *seqs),
                )
            await db.execute(f"DELETE FROM batches WHERE seq IN ({marks})", tuple(seqs))
            if counter is not Counter.CONFIRMED:  # a drop-like count: in its own transaction
                await count(db, counter, n)
        if counter is Counter.CONFIRMED:
            self._tally.add(counter, n)
        return n


def _value(v: Value, is_bool: int) -> Value:
    return bool(v) if is_bool else v
