"""Each series' id: a ``(device, point)`` is stored once, in ``series``, and its readings refer to it.

The ids are cached in memory (read at open). A series added inside a transaction is remembered only
once that transaction committed: a rollback takes its id back.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from wire.points import Reading

Row = tuple[int, int, object, bool, int, str | None]  # series, ts, value, is_bool, quality, reason


class SeriesIds:
    def __init__(self, ids: dict[tuple[str, str], int] | None = None) -> None:
        self._ids = ids or {}

    @classmethod
    async def load(cls, db: aiosqlite.Connection) -> SeriesIds:
        rows = await db.execute_fetchall("SELECT id, device, point FROM series")
        return cls({(str(device), str(point)): int(sid) for sid, device, point in rows})

    async def rows(
        self, db: aiosqlite.Connection, readings: Sequence[Reading], new: dict[tuple[str, str], int]
    ) -> list[Row]:
        """The ``readings`` rows of ``readings``, in the caller's transaction; series not seen before are
        inserted and put in ``new`` (give it to :meth:`remember` once the transaction committed)."""
        out: list[Row] = []
        for r in readings:
            key = (r.device, r.point)
            sid = self._ids.get(key) or new.get(key)
            if sid is None:
                cur = await db.execute("INSERT INTO series (device, point) VALUES (?, ?)", key)
                assert cur.lastrowid is not None
                sid = new[key] = cur.lastrowid
            out.append((sid, r.ts_ms, r.value, isinstance(r.value, bool), int(r.quality), r.reason))
        return out

    def remember(self, new: dict[tuple[str, str], int]) -> None:
        self._ids.update(new)
