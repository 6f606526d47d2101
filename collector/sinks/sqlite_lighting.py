"""The program sets the centre signed for each gateway (``lighting_pushes``, store schema v5), and what
the gateways reported of them: the ``lighting_installed``, ``lighting_refused`` and ``lighting_level``
events among ``outbox_messages``."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

import aiosqlite

from collector.errors import StoreError
from collector.sinks.sqlite_errors import connect_to
from collector.sinks.url import StoreUrl
from wire.errors import PayloadError
from wire.events import Event, EventKind, decode_event
from wire.lighting import LightingPush
from wire.topics import TopicKind

_COLUMNS = "gateway, version, rollback, issued_at_ms, issuer, key_id, program_set, sent_at_ms, send_error"


@dataclass(frozen=True, slots=True)
class Pushed:
    gateway: str
    version: int
    rollback: bool
    issued_at_ms: int
    issuer: str
    key_id: str
    program_set: dict[str, Any]
    sent_at_ms: int | None
    send_error: str | None


class SqliteLighting:
    def __init__(self, db: aiosqlite.Connection, url: StoreUrl) -> None:
        self._db = db
        self._url = url

    @classmethod
    async def open(cls, url: StoreUrl) -> SqliteLighting:
        assert url.path is not None
        db = await connect_to(url.url, url.path, table="lighting_pushes", what="the lighting pushes")
        return cls(db, url)

    async def close(self) -> None:
        await self._db.close()

    async def record(self, push: LightingPush) -> int:
        """Before it is sent; returns the row's id for :meth:`sent` or :meth:`send_failed`."""
        row = (push.gateway, push.version, int(push.rollback), push.issued_at_ms, push.issuer, push.key_id,
               json.dumps(push.set, sort_keys=True))  # fmt: skip
        cur = await self._run(
            f"INSERT INTO lighting_pushes ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,NULL,NULL)", row
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    async def sent(self, row_id: int, at_ms: int) -> None:
        await self._run("UPDATE lighting_pushes SET sent_at_ms = ? WHERE id = ?", (at_ms, row_id))

    async def send_failed(self, row_id: int, reason: str) -> None:
        await self._run("UPDATE lighting_pushes SET send_error = ? WHERE id = ?", (reason, row_id))

    async def pushes(self, gateway: str, *, version: int | None = None) -> list[Pushed]:
        """The gateway's pushes (of one version), newest first."""
        where, params = "WHERE gateway = ?", [gateway]
        if version is not None:
            where, params = where + " AND version = ?", [*params, str(version)]
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM lighting_pushes {where} ORDER BY id DESC", tuple(params)
        )
        return [
            Pushed(
                str(g),
                int(str(v)),
                bool(rb),
                int(str(i)),
                str(who),
                str(k),
                json.loads(str(body)),
                None if s is None else int(str(s)),
                None if e is None else str(e),
            )
            for g, v, rb, i, who, k, body, s, e in rows
        ]

    async def events(self, gateway: str, *, limit: int = 200) -> list[Event]:
        """The gateway's lighting events, newest first (unreadable ones skipped)."""
        kinds = (EventKind.LIGHTING_INSTALLED, EventKind.LIGHTING_REFUSED, EventKind.LIGHTING_LEVEL)
        rows = await self._fetch(
            "SELECT body FROM outbox_messages WHERE gateway = ? AND kind = ? AND what IN (?, ?, ?) "
            "ORDER BY at_ms DESC, id DESC LIMIT ?",
            (gateway, TopicKind.EVENT.value, *(k.value for k in kinds), limit),
        )
        out = []
        for (body,) in rows:
            try:
                assert isinstance(body, bytes)
                out.append(decode_event(body))
            except PayloadError:
                continue
        return out

    async def _run(self, sql: str, params: tuple[object, ...]) -> aiosqlite.Cursor:
        try:
            return await self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(self._url.url, f"lighting pushes: {exc}") from exc

    async def _fetch(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        try:
            return [tuple(r) for r in await self._db.execute_fetchall(sql, params)]
        except sqlite3.Error as exc:
            raise StoreError(self._url.url, f"lighting pushes: {exc}") from exc
