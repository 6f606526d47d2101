"""The SQLite sink (aiosqlite: every statement runs on the connection's own thread, off the loop).

Readings are rows of a per-series table built for time-range queries, not JSON blobs. Exactly-once is
enforced by ``batches``' unique key, inserted in the same ``BEGIN IMMEDIATE`` transaction as the
readings: a batch whose key is already there is a duplicate, whichever collector or run stored it.
One write is a handful of statements whatever its size: the keys of all batches in one
``INSERT .. ON CONFLICT DO NOTHING RETURNING`` (the rows it returns are the new ones), all readings in
one ``executemany``; series ids come from a cache of committed ids.

Durability: WAL with ``synchronous=FULL``. The collector acknowledges the broker right after COMMIT and
the broker then forgets the message, so a commit must survive a power cut; with NORMAL, WAL mode may
lose the last commits on power loss (the database stays consistent, but acknowledged batches would be
gone while the gateways already deleted them). FULL costs one WAL fsync per commit, and a commit carries
up to ``ingest.max_messages_per_commit`` batches, so the price is paid once per many batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Sequence

import aiosqlite

from collector.errors import StoreError
from collector.sinks.base import QuarantinedPayload, StoreCounts, StoredReading, WriteOutcome
from collector.sinks.sqlite_errors import translated
from collector.sinks.sqlite_schema import (
    INSERT_BATCHES,
    INSERT_READING,
    KEYS_PER_STATEMENT,
    MIGRATIONS,
    SCHEMA,
    SCHEMA_VERSION,
    SELECT_DIGEST,
    SELECT_READINGS,
)
from collector.sinks.url import StoreUrl
from collector.sinks.value import from_columns, to_columns
from wire.points import Quality
from wire.telemetry import TelemetryBatch, content_digest

_SeriesKey = tuple[str, str, str]
_BatchKey = tuple[str, str, int]


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class SqliteSink:
    """One connection, one writer at a time (an asyncio lock); open with :meth:`open`."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        url: StoreUrl,
        *,
        now_ms: Callable[[], int] = _wall_ms,
        max_cached_series: int = 100_000,
    ) -> None:
        self._db = db
        self._url = url
        self._now_ms = now_ms
        self._lock = asyncio.Lock()
        self._series: dict[_SeriesKey, int] = {}  # committed series ids only
        self._max_cached_series = max_cached_series
        self._in_tx = False
        self._closed = False

    @classmethod
    async def open(cls, url: StoreUrl, *, create: bool = True) -> SqliteSink:
        assert url.path is not None
        path = url.path
        if create:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        elif not await asyncio.to_thread(path.is_file):
            raise StoreError(url.url, f"no store at {path}")
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(url.url, f"cannot open {path}: {exc}") from exc
        sink = cls(db, url)
        try:
            with sink._translated("open"):
                await sink._prepare(create)
        except BaseException:
            await db.close()
            raise
        return sink

    async def _prepare(self, create: bool) -> None:
        db = self._db
        await db.execute("PRAGMA busy_timeout = 5000")  # several collectors may share the store
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = FULL")  # why: see the module docstring
        await db.execute("PRAGMA foreign_keys = ON")
        version = await self._user_version()
        if version == 0 and create:
            await db.executescript(
                f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )
            version = await self._user_version()
        while version in MIGRATIONS:  # an older store is brought up to date, even when opened to read
            await self._migrate(version)
            version = await self._user_version()
        if version != SCHEMA_VERSION:
            what = "has no collector schema" if version == 0 else f"has schema version {version}"
            raise StoreError(self._url.url, f"{what}; this collector knows version {SCHEMA_VERSION}")

    async def _migrate(self, version: int) -> None:
        """One step from ``version``; a no-op if another collector on the store took it meanwhile."""
        await self._begin()
        try:
            if await self._user_version() == version:
                await self._db.execute(MIGRATIONS[version])
                await self._db.execute(f"PRAGMA user_version = {version + 1}")
            await self._db.execute("COMMIT")
            self._in_tx = False
        except BaseException:
            await self._rollback()
            raise

    async def _user_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # ---- write -----------------------------------------------------------------------------------
    async def write(self, batches: Sequence[TelemetryBatch]) -> list[WriteOutcome]:
        if not batches:
            return []
        async with self._lock:
            with self._translated("write"):
                return await self._write(batches)

    async def _write(self, batches: Sequence[TelemetryBatch]) -> list[WriteOutcome]:
        new_series: dict[_SeriesKey, int] = {}
        digests = [content_digest(b) for b in batches]
        await self._begin()
        try:
            claimed = await self._claim(batches, digests)
            outcomes: list[WriteOutcome] = []
            rows: list[tuple[object, ...]] = []
            written: dict[_BatchKey, bytes] = {}  # this write's new keys and their digests
            for batch, digest in zip(batches, digests, strict=True):
                k = batch.key
                key3 = (k.gateway, k.epoch, k.seq)
                batch_id = claimed.pop(key3, None)  # a second copy in this write finds it gone
                if batch_id is None:
                    outcomes.append(await self._repeat(key3, digest, written))
                    continue
                written[key3] = digest
                for r in batch.readings:
                    key = (k.gateway, r.device, r.point)
                    series_id = self._series.get(key) or await self._series_id(key, new_series)
                    kind, num, text = to_columns(r.value)
                    rows.append(
                        (series_id, r.ts_ms, int(kind), num, text, int(r.quality), r.reason, batch_id)
                    )
                outcomes.append(WriteOutcome.STORED)
            if rows:
                await self._db.executemany(INSERT_READING, rows)
            await self._db.execute("COMMIT")
            self._in_tx = False
        except BaseException:  # also cancellation: never leave the connection inside a transaction
            await self._rollback()
            raise
        self._remember(new_series)
        return outcomes

    async def _claim(
        self, batches: Sequence[TelemetryBatch], digests: Sequence[bytes]
    ) -> dict[_BatchKey, int]:
        """Insert the keys the store does not have yet, with their digests; their ids. The others are
        duplicates or conflicts.

        The unique key decides, inside the write transaction, so it holds across runs and collectors.
        """
        now = self._now_ms()
        claimed: dict[_BatchKey, int] = {}
        all_pairs = list(zip(batches, digests, strict=True))
        for start in range(0, len(all_pairs), KEYS_PER_STATEMENT):
            pairs = all_pairs[start : start + KEYS_PER_STATEMENT]
            sql = INSERT_BATCHES.format(values=", ".join(["(?, ?, ?, ?, ?, ?)"] * len(pairs)))
            params = [
                x for b, d in pairs for x in (b.key.gateway, b.key.epoch, b.key.seq, len(b.readings), now, d)
            ]
            for gateway, epoch, seq, batch_id in await self._db.execute_fetchall(sql, params):
                claimed[(gateway, epoch, seq)] = batch_id
        return claimed

    async def _repeat(self, key: _BatchKey, digest: bytes, written: dict[_BatchKey, bytes]) -> WriteOutcome:
        """A key the store (or this write) has already: the same content again, or other content."""
        if key in written:
            earlier: bytes | None = written[key]
        else:
            rows = list(await self._db.execute_fetchall(SELECT_DIGEST, key))
            earlier = rows[0][0] if rows else None
        if earlier is None or earlier == digest:  # None: stored before digests were kept
            return WriteOutcome.DUPLICATE
        return WriteOutcome.CONFLICT

    async def _begin(self) -> None:
        if self._in_tx:  # a rollback was interrupted earlier
            await self._rollback()
        await self._db.execute("BEGIN IMMEDIATE")
        self._in_tx = True

    async def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error, ValueError):
            await self._db.execute("ROLLBACK")
            self._in_tx = False

    async def _series_id(self, key: _SeriesKey, new: dict[_SeriesKey, int]) -> int:
        found = self._series.get(key, new.get(key))
        if found is not None:
            return found
        async with self._db.execute(
            "SELECT id FROM series WHERE gateway = ? AND device = ? AND point = ?", key
        ) as cur:
            row = await cur.fetchone()
        if row is not None:
            new[key] = int(row[0])
        else:
            async with self._db.execute(
                "INSERT INTO series (gateway, device, point) VALUES (?, ?, ?)", key
            ) as c:
                assert c.lastrowid is not None
                new[key] = c.lastrowid
        return new[key]

    def _remember(self, new: dict[_SeriesKey, int]) -> None:
        # Ids are cached only once committed: a rolled-back transaction's ids may be reused by another.
        if len(self._series) + len(new) > self._max_cached_series:
            self._series.clear()  # bounded: start over, ids are looked up again as needed
        self._series.update(new)

    async def quarantine(self, topic: str, payload: bytes, reason: str, gateway: str | None) -> None:
        async with self._lock:
            with self._translated("quarantine"):
                await self._db.execute(
                    "INSERT INTO quarantine (received_at_ms, topic, gateway, payload, reason) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (self._now_ms(), topic, gateway, payload, reason),
                )

    # ---- read ------------------------------------------------------------------------------------
    async def query(
        self, *, gateway: str | None, device: str, point: str, since_ms: int, until_ms: int, limit: int
    ) -> list[StoredReading]:
        sql = SELECT_READINGS.format(gateway="" if gateway is None else "AND s.gateway = ?")
        params = (device, point, *(() if gateway is None else (gateway,)), since_ms, until_ms, limit)
        async with self._lock:
            with self._translated("query"):
                rows = await self._db.execute_fetchall(sql, params)
        return [
            StoredReading(gw, dev, pt, ts, from_columns(kind, num, text), Quality(q), reason)
            for gw, dev, pt, ts, kind, num, text, q, reason in rows
        ]

    async def series(self) -> list[tuple[str, str, str]]:
        async with self._lock:
            with self._translated("series listing"):
                rows = await self._db.execute_fetchall("SELECT gateway, device, point FROM series")
        return [(gateway, device, point) for gateway, device, point in rows]

    async def quarantined(self, limit: int) -> list[QuarantinedPayload]:
        async with self._lock:
            with self._translated("quarantine listing"):
                rows = await self._db.execute_fetchall(
                    "SELECT received_at_ms, topic, gateway, length(payload), reason FROM quarantine "
                    "ORDER BY id DESC LIMIT ?",
                    (limit,),
                )
        return [QuarantinedPayload(*row) for row in rows]

    async def counts(self) -> StoreCounts:
        async with self._lock:
            with self._translated("counts"):
                rows = list(
                    await self._db.execute_fetchall(
                        "SELECT (SELECT count(*) FROM series), (SELECT count(*) FROM batches), "
                        "(SELECT count(*) FROM readings), (SELECT count(*) FROM quarantine)"
                    )
                )
        return StoreCounts(*rows[0])

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            with self._translated("close"):
                await self._db.close()

    def _translated(self, doing: str) -> contextlib.AbstractContextManager[None]:
        return translated(self._url.url, doing)
