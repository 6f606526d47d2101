"""The command audit in the SQLite store: what the centre signed and sent (``commands_sent``), and every
state the gateway reported for it (the ``cmd/result`` rows of ``outbox_messages``, verified when they
were stored). Its own connection to the sink's file, opened after the sink (which creates or migrates the
schema: version 4 added ``commands_sent``)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass

import aiosqlite

from collector.errors import StoreError
from collector.sinks.sqlite_errors import connect_to
from collector.sinks.url import StoreUrl
from wire.commands import Command, ReadBack, ResultState, decode_result
from wire.errors import PayloadError
from wire.signing import decode_envelope
from wire.topics import TopicKind

_COLUMNS = (
    "id, gateway, device, action, args, issuer, key_id, issued_at_ms, expires_at_ms, sent_at_ms, send_error"
)


@dataclass(frozen=True, slots=True)
class Reported:
    """One state a gateway reported, with its time (the gateway's clock) and reason."""

    state: ResultState
    at_ms: int
    reason: str | None
    read_back: tuple[ReadBack, ...]


@dataclass(frozen=True, slots=True)
class Audited:
    id: str
    gateway: str
    device: str
    action: str
    args: dict[str, object]
    issuer: str
    key_id: str
    issued_at_ms: int
    expires_at_ms: int
    sent_at_ms: int | None
    send_error: str | None
    states: tuple[Reported, ...] = ()

    @property
    def final(self) -> Reported | None:
        return next((s for s in reversed(self.states) if s.state.final), None)

    def status(self, now_ms: int) -> str:
        """The final state, or what is known without one: not sent, waiting, no result by expiry."""
        if (done := self.final) is not None:
            return done.state.value
        if self.sent_at_ms is None:
            return "not sent" if self.send_error else "sending"
        if now_ms >= self.expires_at_ms:
            return "no result by expiry"  # not final: a result after an outage still lands
        return self.states[-1].state.value if self.states else "sent"


class SqliteAudit:
    def __init__(self, db: aiosqlite.Connection, url: StoreUrl) -> None:
        self._db = db
        self._url = url

    @classmethod
    async def open(cls, url: StoreUrl) -> SqliteAudit:
        assert url.path is not None
        db = await connect_to(url.url, url.path, table="commands_sent", what="the command audit")
        return cls(db, url)

    async def close(self) -> None:
        await self._db.close()

    async def record(self, cmd: Command) -> None:
        """Before it is sent: a command the broker never took is in the audit too."""
        row = (
            str(cmd.id), cmd.gateway, cmd.device, cmd.action, json.dumps(dict(cmd.args), sort_keys=True),
            cmd.issuer, cmd.key_id, cmd.issued_at_ms, cmd.expires_at_ms,
        )  # fmt: skip
        await self._run(f"INSERT INTO commands_sent ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,NULL,NULL)", row)

    async def sent(self, cmd_id: uuid.UUID, at_ms: int) -> None:
        await self._run("UPDATE commands_sent SET sent_at_ms = ? WHERE id = ?", (at_ms, str(cmd_id)))

    async def send_failed(self, cmd_id: uuid.UUID, reason: str) -> None:
        await self._run("UPDATE commands_sent SET send_error = ? WHERE id = ?", (reason, str(cmd_id)))

    async def get(self, cmd_id: str) -> Audited | None:
        rows = await self._fetch(f"SELECT {_COLUMNS} FROM commands_sent WHERE id = ?", (cmd_id,))
        return (await self._with_states(rows))[0] if rows else None

    async def listing(self, *, gateway: str | None, since_ms: int, limit: int = 100) -> list[Audited]:
        where, params = "WHERE issued_at_ms >= ?", [str(since_ms)]
        if gateway is not None:
            where, params = where + " AND gateway = ?", [*params, gateway]
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM commands_sent {where} ORDER BY issued_at_ms DESC LIMIT ?",
            (*params, limit),
        )
        return await self._with_states(rows)

    async def _with_states(self, rows: list[tuple[object, ...]]) -> list[Audited]:
        out = []
        for r in rows:
            found = await self._fetch(
                "SELECT body FROM outbox_messages WHERE kind = ? AND subject = ? ORDER BY at_ms, id",
                (TopicKind.COMMAND_RESULT.value, r[0]),
            )
            states = tuple(s for (body,) in found if (s := _reported(body)) is not None)
            i, gw, dev, act, args, issuer, key_id, issued, expires, sent, error = r
            out.append(
                Audited(
                    str(i),
                    str(gw),
                    str(dev),
                    str(act),
                    json.loads(str(args)),
                    str(issuer),
                    str(key_id),
                    _int(issued),
                    _int(expires),
                    None if sent is None else _int(sent),
                    None if error is None else str(error),
                    states,
                )
            )
        return out

    async def _run(self, sql: str, params: tuple[object, ...]) -> None:
        try:
            await self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(self._url.url, f"command audit: {exc}") from exc

    async def _fetch(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        try:
            return [tuple(r) for r in await self._db.execute_fetchall(sql, params)]
        except sqlite3.Error as exc:
            raise StoreError(self._url.url, f"command audit: {exc}") from exc


def _int(v: object) -> int:
    assert isinstance(v, int)
    return v


def _reported(body: object) -> Reported | None:
    """The state a stored result reports (it was verified when it was stored)."""
    if not isinstance(body, bytes):
        return None
    try:
        result = decode_result(decode_envelope(body).body)
    except PayloadError:
        return None
    return Reported(result.state, result.ts_ms, result.reason, result.read_back)
