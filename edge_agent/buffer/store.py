"""The buffer: readings wait here (SQLite, WAL, synchronous=FULL) until the centre confirms them.

A reading's life: ``append`` (group-committed; when ``append`` returns, the reading is durable) →
``seal`` (moved, in one transaction, into a batch with a never-reused key ``(epoch, seq)`` and its
encoded payload) → published by the uplink → ``ack`` (confirmed stored: deleted), ``reject``
(quarantined by the collector: kept in ``dead_letter`` and counted) or nothing (stays sealed and is
re-sent; after a restart every sealed batch is re-sent with the same key and the same bytes).

``synchronous=FULL``: in WAL mode each commit is fsynced, so a power cut keeps every committed
transaction. Commits are grouped (one per ``commit_interval_s`` at most) to spare the SD card.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from edge_agent.buffer import retention
from edge_agent.buffer.retention import Retention, WhenFull
from edge_agent.clock import Clock
from edge_agent.points import Quality, Reading, Value
from edge_agent.wire.telemetry import BatchKey, encode_batch

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, device TEXT NOT NULL, point TEXT NOT NULL,
    UNIQUE (device, point));
CREATE TABLE IF NOT EXISTS readings (id INTEGER PRIMARY KEY, series INTEGER NOT NULL, ts INTEGER NOT NULL,
    value, is_bool INTEGER NOT NULL DEFAULT 0, quality INTEGER NOT NULL, reason TEXT);
CREATE TABLE IF NOT EXISTS batches (seq INTEGER PRIMARY KEY, created_ms INTEGER NOT NULL,
    readings INTEGER NOT NULL, oldest_ts INTEGER NOT NULL, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letter (seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
    readings INTEGER NOT NULL, reason TEXT NOT NULL, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

COUNTERS = (
    "committed",
    "sealed",
    "confirmed",
    "rejected",
    "dropped_buffer_full",
    "dropped_thinned",
    "dropped_age",
)


@dataclass(frozen=True, slots=True)
class SealedBatch:
    key: BatchKey
    readings: int
    oldest_ts: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class BufferStats:
    unsealed: int
    sealed_batches: int
    sealed_readings: int
    oldest_ts: int | None
    bytes: int
    counters: dict[str, int]


class BufferFull(Exception):
    pass


class Buffer:
    """Open with :meth:`open`; all methods are coroutines; one writer connection."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        *,
        gateway: str,
        epoch: str,
        clock: Clock,
        max_bytes: int,
        commit_interval_s: float,
        retention: Retention | None = None,
    ) -> None:
        self._db = db
        self.gateway = gateway
        self.epoch = epoch
        self._clock = clock
        self._max_bytes = max_bytes
        self._commit_interval_s = commit_interval_s
        self._retention = retention or Retention()
        self._series: dict[tuple[str, str], int] = {}
        self._pending: list[tuple[Sequence[Reading], asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._page_size = 4096
        # One connection serves the write loop, the uplink and the status readers, all on one event
        # loop: every transaction (and every multi-statement read) holds this lock, so their statements
        # never interleave inside another's transaction.
        self._lock = asyncio.Lock()
        self.listeners: list[Callable[[], None]] = []  # called after every commit (the uplink's wake-up)
        self.unsealed = 0  # readings committed and not yet sealed (kept in memory, counted at open)

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        gateway: str,
        clock: Clock,
        max_bytes: int = 256 << 20,
        commit_interval_s: float = 0.1,
        retention: Retention | None = None,
    ) -> Buffer:
        path.parent.mkdir(parents=True, exist_ok=True)
        connector = aiosqlite.connect(path, isolation_level=None)
        # The worker thread must not keep a failing agent alive at exit (systemd restarts a process that
        # exits, not one that hangs); an interrupted write is what SQLite survives anyway (like kill -9).
        worker = getattr(connector, "_thread", None)
        if worker is not None:
            worker.daemon = True
        db = await connector
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=FULL")
            await db.executescript(SCHEMA)
            page = await _scalar(db, "PRAGMA page_size")
            # The disk cap: SQLite refuses to grow past it (SQLITE_FULL) instead of filling the card.
            await db.execute(f"PRAGMA max_page_count={max(64, max_bytes // page)}")
            epoch = await _scalar(db, "SELECT value FROM meta WHERE key='epoch'")
            if epoch is None:
                epoch = secrets.token_hex(8)
                await db.execute("INSERT INTO meta VALUES ('epoch', ?), ('next_seq', '1')", (epoch,))
                log.info("new buffer %s, epoch %s", path, epoch)
            for name in COUNTERS:
                await db.execute("INSERT OR IGNORE INTO counters VALUES (?, 0)", (name,))
        except BaseException:
            await db.close()
            raise
        buf = cls(
            db,
            gateway=gateway,
            epoch=str(epoch),
            clock=clock,
            max_bytes=max_bytes,
            commit_interval_s=commit_interval_s,
            retention=retention,
        )
        buf._page_size = int(page)
        async with db.execute("SELECT id, device, point FROM series") as cur:
            async for sid, device, point in cur:
                buf._series[(device, point)] = sid
        buf.unsealed = int(await _scalar(db, "SELECT COUNT(*) FROM readings"))
        buf._writer = asyncio.create_task(buf._write_loop(), name="buffer-writer")
        return buf

    async def close(self) -> None:
        if self._writer is not None:
            if self._pending:  # let waiting appends commit first
                await asyncio.gather(*(f for _, f in self._pending), return_exceptions=True)
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        await self._db.close()

    # ---- the write path --------------------------------------------------------------------------
    async def append(self, readings: Sequence[Reading]) -> None:
        """Return once ``readings`` are committed (durable). Group-committed with concurrent callers."""
        if not readings:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((readings, fut))
        self._wake.set()
        await fut

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            pending, self._pending = self._pending, []
            if not pending:
                continue
            try:
                await self._commit([r for rs, _ in pending for r in rs])
            except Exception as exc:  # a failed commit must reach every waiting poller, not kill the loop
                for _, fut in pending:
                    if not fut.done():
                        fut.set_exception(exc)
            else:
                for _, fut in pending:
                    if not fut.done():
                        fut.set_result(None)
                for listener in self.listeners:
                    listener()
                try:
                    await self.enforce_bounds()
                except Exception:  # the bounds are checked again after the next commit
                    log.exception("could not apply the buffer's bounds")
            await asyncio.sleep(self._commit_interval_s)

    async def enforce_bounds(self) -> dict[str, int]:
        """Apply the age bound and, past the high-water mark, the ``when_full`` policy (counted)."""
        policy = self._retention
        dropped = {"dropped_age": 0, "dropped_thinned": 0, "dropped_buffer_full": 0}
        async with self._transaction() as db:
            if policy.max_age_s is not None:
                cutoff = self._clock.now_ms() - int(policy.max_age_s * 1000)
                dropped["dropped_age"] += await retention.drop_older_than(db, cutoff)
                self.unsealed -= dropped["dropped_age"]
            used = await retention.used_bytes(db)
            if used > policy.high_water * self._max_bytes:
                for _ in range(50):
                    if used <= policy.low_water * self._max_bytes:
                        break
                    freed = await self._give_up_some(db, dropped)
                    used = await retention.used_bytes(db)
                    if not freed:
                        break
            for name, n in dropped.items():
                if n:
                    await db.execute("UPDATE counters SET value = value + ? WHERE name=?", (n, name))
        if any(dropped.values()):
            log.error(
                "buffer bounds (%d bytes cap, %s): dropped %s readings",
                self._max_bytes,
                policy.when_full.value,
                ", ".join(f"{n} {k.removeprefix('dropped_')}" for k, n in dropped.items() if n),
            )
        return dropped

    async def _give_up_some(self, db: aiosqlite.Connection, dropped: dict[str, int]) -> int:
        """One step of the ``when_full`` policy; returns how many readings it freed."""
        if self.unsealed > 0 and self._retention.when_full is WhenFull.THIN:
            n = await retention.thin(db, self.unsealed, self._retention.thin_keep)
            dropped["dropped_thinned"] += n
            self.unsealed -= n
            if n:
                return n
        # Nothing (left) to thin, or dropping: the oldest data goes, sealed or not.
        if await retention.oldest_is_sealed(db) or self.unsealed == 0:
            n = await retention.drop_oldest_batch(db)
        else:
            n = await retention.drop_oldest(db, max(self.unsealed // 10, 100))
            self.unsealed -= n
        dropped["dropped_buffer_full"] += n
        return n

    async def _commit(self, readings: Sequence[Reading]) -> None:
        for attempt in range(2):
            try:
                await self._insert(readings)
                return
            except sqlite3.OperationalError as exc:
                if "full" not in str(exc).lower() or attempt:
                    raise
                await self._make_room(len(readings))

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                if self._db.in_transaction:
                    await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def _insert(self, readings: Sequence[Reading]) -> None:
        new_series: list[tuple[str, str]] = []
        try:
            async with self._transaction():
                await self._insert_rows(readings, new_series)
        except BaseException:
            for key in new_series:  # their ids were rolled back with the transaction
                self._series.pop(key, None)
            raise
        self.unsealed += len(readings)

    async def _insert_rows(self, readings: Sequence[Reading], new_series: list[tuple[str, str]]) -> None:
        db = self._db
        rows = []
        for r in readings:
            sid = self._series.get((r.device, r.point))
            if sid is None:
                cur = await db.execute(
                    "INSERT INTO series (device, point) VALUES (?, ?)", (r.device, r.point)
                )
                sid = cur.lastrowid
                assert sid is not None
                self._series[(r.device, r.point)] = sid
                new_series.append((r.device, r.point))
            rows.append((sid, r.ts_ms, r.value, isinstance(r.value, bool), int(r.quality), r.reason))
        await db.executemany(
            "INSERT INTO readings (series, ts, value, is_bool, quality, reason) VALUES (?,?,?,?,?,?)", rows
        )
        await db.execute("UPDATE counters SET value = value + ? WHERE name='committed'", (len(rows),))

    async def _make_room(self, wanted: int) -> None:
        """The disk cap was hit: drop the oldest unsealed readings, counted and logged (never silent)."""
        drop = max(wanted * 4, 1000)
        async with self._transaction() as db:
            cur = await db.execute(
                "DELETE FROM readings WHERE id IN (SELECT id FROM readings ORDER BY id LIMIT ?)", (drop,)
            )
            dropped = cur.rowcount
            await db.execute(
                "UPDATE counters SET value = value + ? WHERE name='dropped_buffer_full'", (dropped,)
            )
        self.unsealed -= dropped
        log.error("buffer full (%d bytes cap): dropped the %d oldest readings", self._max_bytes, dropped)
        if dropped == 0:
            raise BufferFull(f"buffer full at {self._max_bytes} bytes and nothing unsealed to drop")

    # ---- the uplink path -------------------------------------------------------------------------
    async def seal(
        self, max_readings: int, *, after_id: int | None = None, upto_id: int | None = None
    ) -> SealedBatch | None:
        """Move up to ``max_readings`` of the oldest unsealed readings into a new batch.

        ``after_id`` / ``upto_id`` restrict it to a range of the buffer (the uplink seals fresh readings
        apart from the backlog); within a range, oldest first, so each series stays in order.
        """
        lo = -1 if after_id is None else after_id
        hi = 2**63 - 1 if upto_id is None else upto_id
        async with self._transaction() as db:
            async with db.execute(
                "SELECT r.id, s.device, s.point, r.ts, r.value, r.is_bool, r.quality, r.reason "
                "FROM readings r JOIN series s ON s.id = r.series WHERE r.id > ? AND r.id <= ? "
                "ORDER BY r.id LIMIT ?",
                (lo, hi, max_readings),
            ) as cur:
                rows = list(await cur.fetchall())
            if not rows:
                return None
            seq = int(await _scalar(db, "SELECT value FROM meta WHERE key='next_seq'"))
            readings = [
                Reading(dev, pt, ts, _value(v, is_bool), Quality(q), reason)
                for _, dev, pt, ts, v, is_bool, q, reason in rows
            ]
            key = BatchKey(self.gateway, self.epoch, seq)
            payload = encode_batch(key, readings)
            oldest = min(r.ts_ms for r in readings)
            await db.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?)",
                (seq, self._clock.now_ms(), len(rows), oldest, payload),
            )
            await db.execute("DELETE FROM readings WHERE id BETWEEN ? AND ?", (rows[0][0], rows[-1][0]))
            await db.execute("UPDATE meta SET value = ? WHERE key='next_seq'", (str(seq + 1),))
            await db.execute("UPDATE counters SET value = value + ? WHERE name='sealed'", (len(rows),))
        self.unsealed -= len(rows)
        return SealedBatch(key, len(rows), oldest, payload)

    async def last_id(self) -> int:
        """The id of the newest unsealed reading (0 when none): where "the backlog" ends right now."""
        async with self._lock:
            return int(await _scalar(self._db, "SELECT COALESCE(MAX(id), 0) FROM readings"))

    async def count_after(self, after_id: int) -> int:
        async with self._lock:
            return int(await _scalar(self._db, "SELECT COUNT(*) FROM readings WHERE id > ?", (after_id,)))

    async def sealed(self, limit: int = 1000) -> list[SealedBatch]:
        """Sealed batches not yet confirmed, oldest first (after a restart: all of them to re-send)."""
        async with (
            self._lock,
            self._db.execute(
                "SELECT seq, readings, oldest_ts, payload FROM batches ORDER BY seq LIMIT ?", (limit,)
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [SealedBatch(BatchKey(self.gateway, self.epoch, s), n, o, p) for s, n, o, p in rows]

    async def ack(self, seqs: Sequence[int]) -> int:
        """The collector stored these batches: delete them. Returns how many readings left the buffer."""
        return await self._finish(seqs, "confirmed", None)

    async def reject(self, seqs: Sequence[int], reason: str) -> int:
        """The collector quarantined these batches: keep them in dead_letter, counted; stop re-sending."""
        n = await self._finish(seqs, "rejected", reason)
        if n:
            log.error("collector rejected batches %s (%d readings): %s", list(seqs), n, reason)
        return n

    async def _finish(self, seqs: Sequence[int], counter: str, reason: str | None) -> int:
        if not seqs:
            return 0
        marks = ",".join("?" * len(seqs))
        async with self._transaction() as db:
            n = int(
                await _scalar(
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
            await db.execute("UPDATE counters SET value = value + ? WHERE name=?", (n, counter))
        return n

    async def stats(self) -> BufferStats:
        async with self._lock:
            return await self._stats(self._db)

    async def _stats(self, db: aiosqlite.Connection) -> BufferStats:
        unsealed = int(await _scalar(db, "SELECT COUNT(*) FROM readings"))
        nb, nr, oldest_b = await _row(
            db, "SELECT COUNT(*), COALESCE(SUM(readings), 0), MIN(oldest_ts) FROM batches"
        )
        oldest_r = await _scalar(db, "SELECT MIN(ts) FROM readings")
        pages = int(await _scalar(db, "PRAGMA page_count"))
        async with db.execute("SELECT name, value FROM counters") as cur:
            counters = {n: int(v) for n, v in await cur.fetchall()}
        oldest = min((t for t in (oldest_b, oldest_r) if t is not None), default=None)
        return BufferStats(unsealed, int(nb), int(nr), oldest, pages * self._page_size, counters)


def _value(v: Value, is_bool: int) -> Value:
    return bool(v) if is_bool else v


async def _scalar(db: aiosqlite.Connection, sql: str, args: tuple[object, ...] = ()) -> Any:
    async with db.execute(sql, args) as cur:
        row = await cur.fetchone()
    return None if row is None else row[0]


async def _row(db: aiosqlite.Connection, sql: str) -> tuple[Any, ...]:
    async with db.execute(sql) as cur:
        row = await cur.fetchone()
    assert row is not None
    return tuple(row)
