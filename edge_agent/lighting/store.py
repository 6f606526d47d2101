"""The installed program set, durable (SQLite, off the event loop): the signed push it came in, so that a
restarted gateway runs the same set, re-verified, without the centre; and the overrides in force."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from edge_agent.lighting.overrides import Override

SCHEMA = """
CREATE TABLE IF NOT EXISTS installed (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    version INTEGER NOT NULL,
    issued_at_ms INTEGER NOT NULL,
    envelope BLOB NOT NULL,
    installed_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS overrides (
    id TEXT PRIMARY KEY,  -- the override command's id
    devices TEXT NOT NULL,  -- JSON list
    level INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    expiry_ms INTEGER NOT NULL,
    issued_ms INTEGER NOT NULL,
    ramp_s REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Installed:
    version: int
    issued_at_ms: int
    envelope: bytes  # the signed push, as received
    installed_at_ms: int


class LightingStore:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: Path) -> LightingStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await db.executescript(SCHEMA)
        await db.commit()
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    async def installed(self) -> Installed | None:
        async with self._db.execute(
            "SELECT version, issued_at_ms, envelope, installed_at_ms FROM installed WHERE one = 1"
        ) as cur:
            row = await cur.fetchone()
        return Installed(int(row[0]), int(row[1]), bytes(row[2]), int(row[3])) if row else None

    async def install(self, entry: Installed) -> None:
        await self._db.execute(
            "INSERT INTO installed (one, version, issued_at_ms, envelope, installed_at_ms) "
            "VALUES (1, ?, ?, ?, ?) ON CONFLICT (one) DO UPDATE SET version = excluded.version, "
            "issued_at_ms = excluded.issued_at_ms, envelope = excluded.envelope, "
            "installed_at_ms = excluded.installed_at_ms",
            (entry.version, entry.issued_at_ms, entry.envelope, entry.installed_at_ms),
        )
        await self._db.commit()

    async def put_override(self, o: Override) -> None:
        await self._db.execute(
            "INSERT OR REPLACE INTO overrides (id, devices, level, start_ms, expiry_ms, issued_ms, ramp_s) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                o.id,
                json.dumps(sorted(o.devices)),
                o.level,
                _ms(o.start),
                _ms(o.expiry),
                o.issued_ms,
                o.ramp_s,
            ),
        )
        await self._db.commit()

    async def forget_overrides(self, ids: list[str]) -> None:
        await self._db.executemany("DELETE FROM overrides WHERE id = ?", [(i,) for i in ids])
        await self._db.commit()

    async def overrides(self) -> list[Override]:
        async with self._db.execute(
            "SELECT id, devices, level, start_ms, expiry_ms, issued_ms, ramp_s FROM overrides "
            "ORDER BY issued_ms"
        ) as cur:
            rows = await cur.fetchall()
        return [
            Override(
                str(r[0]),
                frozenset(json.loads(r[1])),
                int(r[2]),
                _at(r[3]),
                _at(r[4]),
                int(r[5]),
                float(r[6]),
            )
            for r in rows
        ]


def _ms(t: dt.datetime) -> int:
    return round(t.timestamp() * 1000)


def _at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
