"""The SQLite store's outbox table: gateways' command results and events, each stored once by its key.

Its own connection to the sink's file (WAL; several writers take turns through ``busy_timeout``), opened
after the sink, which creates or migrates the schema (version 3 added the table). ``synchronous=FULL``
like the sink: the collector acknowledges the broker and confirms the gateway right after the commit,
and the gateway then deletes the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Sequence

import aiosqlite

from collector.errors import StoreError
from collector.sinks.base import OutboxRecord, WriteOutcome
from collector.sinks.sqlite_errors import translated
from collector.sinks.url import StoreUrl
from wire.outbox import body_digest

INSERT = """INSERT INTO outbox_messages
    (gateway, epoch, seq, kind, what, subject, at_ms, body, digest, stored_at_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (gateway, epoch, seq) DO NOTHING"""
SELECT_DIGEST = "SELECT digest FROM outbox_messages WHERE gateway = ? AND epoch = ? AND seq = ?"


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class SqliteOutboxStore:
    def __init__(self, db: aiosqlite.Connection, url: StoreUrl, now_ms: Callable[[], int]) -> None:
        self._db = db
        self._url = url
        self._now_ms = now_ms
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, url: StoreUrl, *, now_ms: Callable[[], int] = _wall_ms) -> SqliteOutboxStore:
        """Open the outbox table of a store the sink has opened (so created or migrated) already."""
        assert url.path is not None
        try:
            db = await aiosqlite.connect(url.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(url.url, f"cannot open {url.path}: {exc}") from exc
        store = cls(db, url, now_ms)
        try:
            with store._translated("open outbox table"):
                await db.execute("PRAGMA busy_timeout = 5000")
                await db.execute("PRAGMA journal_mode = WAL")
                await db.execute("PRAGMA synchronous = FULL")
                await db.execute("SELECT 1 FROM outbox_messages LIMIT 0")
        except BaseException:
            await db.close()
            raise
        return store

    async def write(self, records: Sequence[OutboxRecord]) -> list[WriteOutcome]:
        """Store the messages in one transaction; one outcome per message (a key already there:
        DUPLICATE with the same body digest, CONFLICT with another)."""
        if not records:
            return []
        now = self._now_ms()
        async with self._lock:
            with self._translated("outbox write"):
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    outcomes = [await self._one(r, now) for r in records]
                    await self._db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error, ValueError):
                        await self._db.execute("ROLLBACK")
                    raise
        return outcomes

    async def _one(self, r: OutboxRecord, now: int) -> WriteOutcome:
        digest = body_digest(r.body)
        row = (r.gateway, r.epoch, r.seq, r.kind, r.what, r.subject, r.at_ms, r.body)
        async with self._db.execute(INSERT, (*row, digest, now)) as cur:
            if cur.rowcount == 1:
                return WriteOutcome.STORED
        found = list(await self._db.execute_fetchall(SELECT_DIGEST, (r.gateway, r.epoch, r.seq)))
        return WriteOutcome.DUPLICATE if found and found[0][0] == digest else WriteOutcome.CONFLICT

    async def messages(self, *, gateway: str | None = None, limit: int = 100) -> list[OutboxRecord]:
        """The most recently stored messages (of one gateway, or all), newest first."""
        where = "" if gateway is None else "WHERE gateway = ?"
        sql = (
            "SELECT gateway, epoch, seq, kind, what, subject, at_ms, body FROM outbox_messages "
            f"{where} ORDER BY id DESC LIMIT ?"
        )
        params = (limit,) if gateway is None else (gateway, limit)
        async with self._lock:
            with self._translated("outbox listing"):
                rows = await self._db.execute_fetchall(sql, params)
        return [OutboxRecord(*r) for r in rows]

    async def close(self) -> None:
        async with self._lock:
            with self._translated("close outbox table"):
                await self._db.close()

    def _translated(self, doing: str) -> contextlib.AbstractContextManager[None]:
        return translated(self._url.url, doing)
