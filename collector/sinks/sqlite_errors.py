"""The one place the SQLite store modules turn ``sqlite3`` errors into :class:`StoreError`, and open a
connection to a table of the store the sink has created (the command audit, the lighting pushes)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import aiosqlite

from collector.errors import StoreError


@contextlib.contextmanager
def translated(url: str, doing: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(url, f"{doing} failed: {exc}") from exc


async def connect_to(url: str, path: str | Path, *, table: str, what: str) -> aiosqlite.Connection:
    """A connection (autocommit, FULL sync, 5 s busy wait) to the store at ``path`` whose ``table`` the
    sink has made; raises :class:`StoreError` saying it cannot open ``what``."""
    try:
        db = await aiosqlite.connect(path, isolation_level=None)
        await db.execute("PRAGMA busy_timeout = 5000")
        await db.execute("PRAGMA synchronous = FULL")
        await db.execute(f"SELECT 1 FROM {table} LIMIT 0")
    except sqlite3.Error as exc:
        raise StoreError(url, f"cannot open {what}: {exc}") from exc
    return db
