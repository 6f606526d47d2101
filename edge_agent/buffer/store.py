"""The buffer: readings wait here (SQLite, WAL, synchronous=FULL) until the centre confirms them.

A reading's life: ``append`` (group-committed; when ``append`` returns, the reading is durable) →
``seal`` (moved, in one transaction, into a batch with a never-reused key ``(epoch, seq)`` and its
encoded payload) → published by the uplink → ``ack`` (confirmed stored: deleted), ``reject``
(quarantined by the collector: kept in ``dead_letter`` and counted) or nothing (stays sealed and is
re-sent; after a restart every sealed batch is re-sent with the same key and the same bytes).

``synchronous=FULL``: in WAL mode each commit is fsynced, so a power cut keeps every committed
transaction. Commits are grouped (one per ``commit_interval_s`` at most) to spare the SD card.

No room — the cap, or a full disk (:mod:`edge_agent.buffer.disk`) — is a condition, not a failure: the
buffer gets its WAL going again, gives data up under the ``when_full`` policy (:mod:`.room`, counted)
and commits. Readings it still cannot commit are counted as ``dropped_disk_full`` and ``append``
raises :class:`BufferFull`, which its callers take in their stride (the count survives a full disk
and a restart: :mod:`.refusals`). Seal, ack and reject that find no
room lose nothing (they are tried again). Any other database error stops the agent (systemd restarts it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from edge_agent.buffer.bounds import Depth
from edge_agent.buffer.database import count, no_space, row, scalar
from edge_agent.buffer.disk import DiskSpace
from edge_agent.buffer.refusals import Refusals
from edge_agent.buffer.retention import Retention
from edge_agent.buffer.room import Room, open_with_room
from edge_agent.clock import Clock
from wire.points import Quality, Reading, Value, value_flaw
from wire.telemetry import BatchKey, encode_batch

log = logging.getLogger(__name__)


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
    cap_bytes: int = 0  # the cap in force: buffer.max_bytes, or less when the disk has less room
    disk_free_bytes: int | None = None  # free on the buffer's filesystem at the last look
    disk_full: bool = False  # a disk-full episode is on


class BufferFull(Exception):
    """``append`` could not commit: no room, even after the buffer made room inside its file. The
    readings were counted as ``dropped_disk_full``; the caller goes on (every commit tries again)."""

    def __init__(self, readings: int, reason: str) -> None:
        super().__init__(f"{readings} readings not committed: {reason}")
        self.readings = readings
        self.reason = reason


class Buffer:
    """Open with :meth:`open`; all methods are coroutines; one writer connection."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        *,
        gateway: str,
        epoch: str,
        clock: Clock,
        space: DiskSpace,
        refusals: Refusals,
        commit_interval_s: float,
        retention: Retention | None = None,
    ) -> None:
        self._db = db
        self.gateway = gateway
        self.epoch = epoch
        self._clock = clock
        self._space = space
        self._page_size = space.plan.page_size
        self._commit_interval_s = commit_interval_s
        self._series: dict[tuple[str, str], int] = {}
        self._pending: list[tuple[Sequence[Reading], asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False  # close() asked the writer to commit what is pending and stop
        # One connection serves the write loop, the uplink and the status readers, all on one event
        # loop: every transaction (and every multi-statement read) holds this lock, so their statements
        # never interleave inside another's transaction.
        self._lock = asyncio.Lock()
        self._depth = Depth()
        self._room = Room(
            transaction=self._transaction,
            locked=self._locked,
            space=space,
            page_size=self._page_size,
            policy=retention or Retention(),
            clock=clock,
            depth=self._depth,
        )
        self._refusals = refusals  # readings refused for lack of room, and how many are counted
        self._refusing = False  # the last commit found no room (logged once, at ERROR)
        self._quiet: set[str] = set()  # uplink operations that found no room (logged once)
        self.listeners: list[Callable[[], None]] = []  # called after every commit (the uplink's wake-up)

    @property
    def unsealed(self) -> int:
        """Readings committed and not yet sealed (kept in memory, counted at open)."""
        return self._depth.unsealed

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
        disk_check_s: float = 5.0,
    ) -> Buffer:
        """Open (or create) the buffer at ``path``; ``disk_check_s``: how often the filesystem's free
        space is looked at again (other processes eat space too)."""
        db, epoch, space = await open_with_room(path, max_bytes=max_bytes, clock=clock, check_s=disk_check_s)
        try:
            series = list(await db.execute_fetchall("SELECT id, device, point FROM series"))
            unsealed = int(await scalar(db, "SELECT COUNT(*) FROM readings"))
            counted = await scalar(db, "SELECT value FROM counters WHERE name='dropped_disk_full'")
            refusals = await Refusals.open(path, epoch, int(counted or 0))
        except BaseException:
            await db.close()
            raise
        buf = cls(
            db,
            gateway=gateway,
            epoch=epoch,
            clock=clock,
            space=space,
            refusals=refusals,
            commit_interval_s=commit_interval_s,
            retention=retention,
        )
        buf._series = {(str(device), str(point)): int(sid) for sid, device, point in series}
        buf._depth.unsealed = unsealed
        buf._writer = asyncio.create_task(buf._write_loop(), name="buffer-writer")
        return buf

    async def close(self) -> None:
        if self._writer is not None:
            # Readings handed over before the stop are committed first — even those of a poller that
            # was cancelled while it waited: a clean stop costs nothing.
            self._closing = True
            self._wake.set()
            done, _ = await asyncio.wait({self._writer}, timeout=10)
            if not done:
                log.warning("the buffer's last commit did not finish within 10 s; closing anyway")
                self._writer.cancel()
                await asyncio.gather(self._writer, return_exceptions=True)
        if self._refusals.uncounted:  # the disk is still full: the count waits in its own file
            log.warning(
                "closing the buffer with %d refused readings not yet in dropped_disk_full (kept in %s)",
                self._refusals.uncounted,
                self._refusals.path,
            )
        await self._db.close()

    # ---- the write path --------------------------------------------------------------------------
    async def append(self, readings: Sequence[Reading]) -> None:
        """Return once ``readings`` are committed (durable). Group-committed with concurrent callers.

        Raises :class:`BufferFull` when there is no room for them even after making room (the buffer
        has counted them as ``dropped_disk_full``; go on), and ValueError for a reading the contract
        forbids (:func:`wire.points.value_flaw`): a bug in its producer."""
        if not readings:
            return
        for r in readings:  # refused here, at its producer, not later when its batch is sealed
            if (flaw := value_flaw(r.quality, r.value)) is not None:
                raise ValueError(f"{r.device}.{r.point}: {flaw}")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((readings, fut))
        self._wake.set()
        # Shielded: a caller cancelled while it waits (a clean stop) does not take its readings back;
        # they are committed with the others, and by close() at the latest.
        await asyncio.shield(fut)

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            pending, self._pending = self._pending, []
            if pending:
                await self._commit_pending(pending)
            if self._closing:
                if not self._pending:
                    return
                self._wake.set()
                continue
            if self._space.due():
                await self._room.look()
            await asyncio.sleep(self._commit_interval_s)

    async def _commit_pending(self, pending: list[tuple[Sequence[Reading], asyncio.Future[None]]]) -> None:
        try:
            stored = await self._commit([r for rs, _ in pending for r in rs])
        except Exception as exc:  # a failed commit must reach every waiting poller, not kill the loop
            for _, fut in pending:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for rs, fut in pending:
            if not fut.done():
                if stored:
                    fut.set_result(None)
                else:
                    fut.set_exception(BufferFull(len(rs), "no room for them, even after making room"))
        if stored:
            for listener in self.listeners:
                listener()
            await self._room.keep(force=False)

    async def _commit(self, readings: Sequence[Reading]) -> bool:
        """Commit ``readings``; False when there is no room for them even after making room: then they
        are counted (``dropped_disk_full``, persisted with the next commit that succeeds)."""
        try:
            await self._insert(readings)
        except sqlite3.OperationalError as exc:
            if not no_space(exc):
                raise
            await self._room.make()
            try:
                await self._insert(readings)
            except sqlite3.OperationalError as again:
                if not no_space(again):
                    raise
                await self._refuse(len(readings), again)
                return False
        return True

    async def _refuse(self, n: int, exc: Exception) -> None:
        first, self._refusing = not self._refusing, True
        await self._refusals.refuse(n)
        dropped = self._space.dropped
        dropped["dropped_disk_full"] = dropped.get("dropped_disk_full", 0) + n
        (log.error if first else log.debug)(
            "buffer: no room to commit %d readings (%s); counted as dropped_disk_full, every commit tries "
            "again",
            n,
            exc,
        )

    async def enforce_bounds(self) -> dict[str, int]:
        """Apply the age bound and, past the high-water mark of the cap, the ``when_full`` policy."""
        return await self._room.bounds.apply()

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                await self._db.execute("COMMIT")  # a COMMIT that fails (no room) must not stay open
            except BaseException:
                if self._db.in_transaction:
                    await self._db.execute("ROLLBACK")
                raise

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            yield self._db

    async def _insert(self, readings: Sequence[Reading]) -> None:
        new_series: list[tuple[str, str]] = []
        carried = self._refusals.uncounted  # refused earlier: counted in these readings' transaction
        try:
            async with self._transaction() as db:
                await self._insert_rows(readings, new_series)
                await count(db, "dropped_disk_full", carried)
        except BaseException:
            for key in new_series:  # their ids were rolled back with the transaction
                self._series.pop(key, None)
            raise
        self._depth.unsealed += len(readings)
        self._refusing = False
        if carried:
            self._refusals.counted_in_database(carried)
            log.info("buffer commits again; %d readings could not be committed (dropped_disk_full)", carried)

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
        await count(db, "committed", len(rows))

    # ---- the uplink path -------------------------------------------------------------------------
    async def seal(
        self, max_readings: int, *, after_id: int | None = None, upto_id: int | None = None
    ) -> SealedBatch | None:
        """Move up to ``max_readings`` of the oldest unsealed readings into a new batch.

        ``after_id`` / ``upto_id`` restrict it to a range of the buffer (the uplink seals fresh readings
        apart from the backlog); within a range, oldest first, so each series stays in order.
        None: nothing to seal — or no space to seal it now (the readings stay where they are; logged).
        """
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
            seq = int(await scalar(db, "SELECT value FROM meta WHERE key='next_seq'"))
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
            await count(db, "sealed", len(rows))
        self._depth.unsealed -= len(rows)
        return SealedBatch(key, len(rows), oldest, payload)

    async def last_id(self) -> int:
        """The id of the newest unsealed reading (0 when none): where "the backlog" ends right now."""
        async with self._lock:
            return int(await scalar(self._db, "SELECT COALESCE(MAX(id), 0) FROM readings"))

    async def count_after(self, after_id: int) -> int:
        async with self._lock:
            return int(await scalar(self._db, "SELECT COUNT(*) FROM readings WHERE id > ?", (after_id,)))

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
        """The collector stored these batches: delete them. Returns how many readings left the buffer —
        0 when there was no space even to delete them: they stay, are re-sent and confirmed again."""
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
        try:
            n = await self._retire(seqs, counter, reason)
        except sqlite3.OperationalError as exc:
            if not no_space(exc):
                raise
            self._no_room_for(counter, exc)
            return 0
        self._quiet.discard(counter)
        return n

    def _no_room_for(self, what: str, exc: Exception) -> None:
        """An uplink operation found no space: nothing is lost (it is tried again), so WARNING, once."""
        (log.debug if what in self._quiet else log.warning)(
            "buffer: no room to record %s batches (%s); nothing is lost, it is tried again", what, exc
        )
        self._quiet.add(what)

    async def _retire(self, seqs: Sequence[int], counter: str, reason: str | None) -> int:
        marks = ",".join("?" * len(seqs))
        async with self._transaction() as db:
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
            await count(db, counter, n)
        return n

    async def stats(self) -> BufferStats:
        async with self._lock:
            return await self._stats(self._db)

    async def _stats(self, db: aiosqlite.Connection) -> BufferStats:
        # Kept by every insert, seal and drop: COUNT(*) and MIN(ts) read the whole table (0.6 s on 10 M
        # readings, under the lock the uplink needs), and stats are read every health period.
        unsealed = self._depth.unsealed
        nb, nr, oldest_b = await row(
            db, "SELECT COUNT(*), COALESCE(SUM(readings), 0), MIN(oldest_ts) FROM batches"
        )
        oldest_r = await scalar(db, "SELECT ts FROM readings ORDER BY id LIMIT 1")  # the first committed
        pages = int(await scalar(db, "PRAGMA page_count"))
        async with db.execute("SELECT name, value FROM counters") as cur:
            counters = {n: int(v) for n, v in await cur.fetchall()}
        counters["dropped_disk_full"] = counters.get("dropped_disk_full", 0) + self._refusals.uncounted
        oldest = min((t for t in (oldest_b, oldest_r) if t is not None), default=None)
        space = self._space
        return BufferStats(
            unsealed,
            int(nb),
            int(nr),
            oldest,
            pages * self._page_size,
            counters,
            cap_bytes=space.cap,
            disk_free_bytes=None if space.usage is None else space.usage.free,
            disk_full=space.full,
        )


def _value(v: Value, is_bool: int) -> Value:
    return bool(v) if is_bool else v
