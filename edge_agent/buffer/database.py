"""The buffer's SQLite file: its schema, how it is opened, its counters, and what "no space" looks like.

Opened in WAL mode with ``synchronous=FULL`` (each commit fsynced: a power cut keeps every committed
transaction) and ``max_page_count`` as the cap, so that a full buffer is SQLITE_FULL, never a file that
grew past its room. aiosqlite's exceptions are the stdlib's :mod:`sqlite3` ones; :func:`no_space` is
the one place that tells "no room" from every other database error.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite

from edge_agent.buffer.upgrade import upgrade_to_chunks
from edge_agent.counters import BUFFER, RENAMED, Counter

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3  # 1: meta.next_seq; 2: meta.seq_reserved (keys reserved in blocks); 3: chunks

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (seq INTEGER PRIMARY KEY, grp INTEGER NOT NULL,
    created_ms INTEGER NOT NULL, readings INTEGER NOT NULL, oldest_ts INTEGER NOT NULL,
    newest_ts INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_grp ON chunks (grp, seq);
CREATE TABLE IF NOT EXISTS payloads (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letter (seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
    readings INTEGER NOT NULL, reason TEXT NOT NULL, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


async def upgrade(db: aiosqlite.Connection, path: Path, gateway: str) -> None:
    """Bring a file of an older schema to :data:`SCHEMA_VERSION`, in place, in one transaction
    (:mod:`.upgrade`)."""
    version = int(await scalar(db, "SELECT value FROM meta WHERE key='schema'") or 1)
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"{path}: buffer schema {version} is newer than this agent's ({SCHEMA_VERSION}); "
            "run the newer agent, or move the file aside"
        )
    if version == SCHEMA_VERSION:
        return
    await db.execute("BEGIN IMMEDIATE")
    try:
        moved = await upgrade_to_chunks(db, version, gateway)
        await db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        await db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            await db.execute("ROLLBACK")
        raise
    log.info("buffer %s upgraded from schema %d to %d: %s", path, version, SCHEMA_VERSION, moved)


def no_space(exc: BaseException) -> bool:
    """Whether a database error means "no room": SQLITE_FULL (the cap, or ENOSPC from the disk), or a
    WAL index that could not be allocated (SQLITE_IOERR_SHMSIZE: opening on a full disk)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return isinstance(exc, sqlite3.OperationalError) and "database or disk is full" in str(exc)
    return bool(code & 0xFF == sqlite3.SQLITE_FULL or code == sqlite3.SQLITE_IOERR_SHMSIZE)


async def connect(path: Path, max_bytes: int, gateway: str) -> tuple[aiosqlite.Connection, str, int]:
    """Open the file: WAL, synchronous=FULL, the schema, the epoch. Returns (db, epoch, page size)."""
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
        page = int(await scalar(db, "PRAGMA page_size"))
        # The cap: SQLite refuses to grow past it (SQLITE_FULL) instead of filling the card.
        await db.execute(f"PRAGMA max_page_count={max(64, max_bytes // page)}")
        epoch = await scalar(db, "SELECT value FROM meta WHERE key='epoch'")
        if epoch is None:
            epoch = secrets.token_hex(8)
            await db.execute(
                "INSERT INTO meta VALUES ('epoch', ?), ('schema', ?), ('seq_reserved', '0'), "
                "('open_group', '0')",
                (epoch, str(SCHEMA_VERSION)),
            )
            log.info("new buffer %s, epoch %s", path, epoch)
        else:
            await upgrade(db, path, gateway)
        try:
            renamed = [
                (str(new), old) for old, new in RENAMED.items()
            ]  # a file from before the names were one
            await db.executemany("UPDATE OR IGNORE counters SET name = ? WHERE name = ?", renamed)
            await db.executemany("INSERT OR IGNORE INTO counters VALUES (?, 0)", [(str(n),) for n in BUFFER])
        except sqlite3.OperationalError as exc:  # a full disk: a counter is created when first counted
            if not no_space(exc):
                raise
    except BaseException:
        await db.close()
        raise
    return db, str(epoch), page


async def count(db: aiosqlite.Connection, name: Counter, n: int) -> None:
    """Add ``n`` to a counter, in the caller's transaction."""
    if n:
        await db.execute(
            "INSERT INTO counters VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (str(name), n),
        )


async def scalar(db: aiosqlite.Connection, sql: str, args: tuple[object, ...] = ()) -> Any:
    async with db.execute(sql, args) as cur:
        row = await cur.fetchone()
    return None if row is None else row[0]


async def row(db: aiosqlite.Connection, sql: str) -> tuple[Any, ...]:
    async with db.execute(sql) as cur:
        found = await cur.fetchone()
    assert found is not None
    return tuple(found)
