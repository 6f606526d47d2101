"""The command ledger: every command id the gateway admitted, kept durably until it cannot come back.

Two promises rest on it (``docs/protocol.md``, "Checks, in order", step 9, and issue 11):

- **A command runs at most once.** :meth:`Ledger.admit` commits the id as ``accepted`` (fsynced) before it
  returns, so before the first write to a device. An id already in the ledger is refused
  (:class:`~wire.errors.Replayed`), whatever became of it. After a restart, an id accepted without a
  final state is listed by :meth:`Ledger.unfinished`. The executor reports it ``failed: outcome
  unknown``, with a fresh read of the device, and never runs it again.
- **A replay stays refused after its id is forgotten, even across a clock step.** An id is kept until
  its command's expiry plus the skew allowance has passed (:meth:`Ledger.prune`); after that the expiry
  check refuses a replay on its own while the clock is right. When the ids are forgotten, the ledger's
  **horizon** rises to the latest issue time among them, durably. A command issued at or before the
  horizon is refused (:class:`~wire.errors.BeforeHorizon`). So a gateway whose clock is stepped back
  cannot run a forgotten command again: its issue time is behind the horizon, whatever the clock says.
  The cost is that a genuine command older than one already forgotten is refused too; it has a
  short time to live, and the centre re-issues it.

It also keeps the executor's state across restarts (:class:`edge_agent.commands.targets.Book`): the
devices in **maintenance mode** (:mod:`edge_agent.commands.maintenance`; a row per device while it is
on), so that a mode the centre set survives a restart, and the last **mailbox sequence number** sent to
each device, so that a restarted agent never sends a number again that the device may take for a retry
of the command it last processed.

The file is its own small SQLite database (WAL, ``synchronous=FULL``) beside the buffer. One admitted
command is one insert and one fsync; commands are rare next to readings.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import aiosqlite

from edge_agent.clock import Clock
from edge_agent.commands.maintenance import Maintenance
from wire.commands import Command, ResultState
from wire.errors import BeforeHorizon, Replayed

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    action TEXT NOT NULL,
    issued_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    accepted_at_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    finished_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS commands_expiry ON commands (expires_at_ms);
CREATE TABLE IF NOT EXISTS maintenance (
    device TEXT PRIMARY KEY,
    since_ms INTEGER NOT NULL,
    reason TEXT,
    command_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mailbox (device TEXT PRIMARY KEY, sequence INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Entry:
    """One admitted command, as the ledger keeps it."""

    id: uuid.UUID
    device: str
    action: str
    issued_at_ms: int
    expires_at_ms: int
    accepted_at_ms: int
    state: ResultState
    finished_at_ms: int | None


class Ledger:
    def __init__(self, db: aiosqlite.Connection, *, clock: Clock, skew_ms: int, horizon_ms: int) -> None:
        self._db = db
        self._clock = clock
        self._skew_ms = skew_ms
        self._horizon_ms = horizon_ms
        self._lock = asyncio.Lock()  # one transaction at a time on the one connection

    @classmethod
    async def open(cls, path: Path, *, clock: Clock, skew_ms: int) -> Self:
        if skew_ms < 0:
            raise ValueError(f"skew_ms must be >= 0, got {skew_ms}")
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=FULL")
            await db.executescript(SCHEMA)
            await db.execute("INSERT OR IGNORE INTO meta VALUES ('horizon_ms', -1)")
            async with db.execute("SELECT value FROM meta WHERE key = 'horizon_ms'") as cur:
                row = await cur.fetchone()
        except BaseException:
            await db.close()
            raise
        assert row is not None
        return cls(db, clock=clock, skew_ms=skew_ms, horizon_ms=int(row[0]))

    async def close(self) -> None:
        await self._db.close()

    @property
    def horizon_ms(self) -> int:
        """Commands issued at or before this time (UTC ms) are refused: their ids may be forgotten."""
        return self._horizon_ms

    async def admit(self, cmd: Command) -> None:
        """Record ``cmd`` as accepted, durably, or raise :class:`Replayed` / :class:`BeforeHorizon`.
        Call it after the gate's checks (``wire.gate.check_command``) and before any device I/O."""
        async with self._lock:
            if cmd.issued_at_ms <= self._horizon_ms:
                raise BeforeHorizon(
                    f"issued at {cmd.issued_at_ms}, at or before the replay horizon {self._horizon_ms}: "
                    "ids that old may be forgotten, so it cannot be told from a replay"
                )
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                async with self._db.execute("SELECT state FROM commands WHERE id = ?", (str(cmd.id),)) as cur:
                    seen = await cur.fetchone()
                if seen is not None:
                    raise Replayed(f"command {cmd.id} was received before (it is {seen[0]})")
                await self._db.execute(
                    "INSERT INTO commands VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                    (
                        str(cmd.id),
                        cmd.device,
                        cmd.action,
                        cmd.issued_at_ms,
                        cmd.expires_at_ms,
                        self._clock.now_ms(),
                        ResultState.ACCEPTED.value,
                    ),
                )
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def finish(self, cmd_id: uuid.UUID, state: ResultState) -> None:
        """Record the final state of an admitted command (``done``, ``failed``, ``refused``, ``expired``)."""
        if not state.final:
            raise ValueError(f"{state} is not a final state")
        async with self._lock:
            cur = await self._db.execute(
                "UPDATE commands SET state = ?, finished_at_ms = ? WHERE id = ? AND finished_at_ms IS NULL",
                (state.value, self._clock.now_ms(), str(cmd_id)),
            )
            changed = cur.rowcount
            await cur.close()
        if changed != 1:
            raise KeyError(f"command {cmd_id} is not in the ledger, or has its final state already")

    async def unfinished(self) -> list[Entry]:
        """Commands accepted without a final state: after a restart, their outcome is unknown."""
        return await self._entries("WHERE finished_at_ms IS NULL ORDER BY accepted_at_ms")

    async def get(self, cmd_id: uuid.UUID) -> Entry | None:
        found = await self._entries("WHERE id = ?", (str(cmd_id),))
        return found[0] if found else None

    async def prune(self) -> int:
        """Forget the ids whose expiry plus the skew allowance has passed, raising the horizon past their
        issue times in the same transaction. Commands without a final state are kept."""
        cutoff = self._clock.now_ms() - self._skew_ms
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                where = "WHERE expires_at_ms < ? AND finished_at_ms IS NOT NULL"
                async with self._db.execute(
                    f"SELECT COUNT(*), MAX(issued_at_ms) FROM commands {where}", (cutoff,)
                ) as cur:
                    row = await cur.fetchone()
                assert row is not None
                n, latest = int(row[0]), row[1]
                if n:
                    horizon = max(self._horizon_ms, int(latest))
                    await self._db.execute(f"DELETE FROM commands {where}", (cutoff,))
                    await self._db.execute("UPDATE meta SET value = ? WHERE key = 'horizon_ms'", (horizon,))
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")
        if n:
            self._horizon_ms = horizon
        return n

    async def maintenance(self) -> dict[str, Maintenance]:
        """The devices in maintenance mode, as last recorded."""
        async with self._lock, self._db.execute("SELECT * FROM maintenance ORDER BY device") as cur:
            rows = await cur.fetchall()
        return {d: Maintenance(int(since), reason, cmd) for d, since, reason, cmd in rows}

    async def set_maintenance(self, device: str, state: Maintenance | None) -> None:
        """Record ``device`` in maintenance mode (``state``) or out of it (None), durably."""
        async with self._lock:
            if state is None:
                await self._db.execute("DELETE FROM maintenance WHERE device = ?", (device,))
            else:
                await self._db.execute(
                    "INSERT OR REPLACE INTO maintenance VALUES (?, ?, ?, ?)",
                    (device, state.since_ms, state.reason, state.command_id),
                )

    async def sequences(self) -> dict[str, int]:
        """The last mailbox sequence number sent to each device."""
        async with self._lock, self._db.execute("SELECT device, sequence FROM mailbox") as cur:
            rows = await cur.fetchall()
        return {d: int(n) for d, n in rows}

    async def set_sequence(self, device: str, sequence: int) -> None:
        """Record the mailbox sequence number about to be sent to ``device``, durably."""
        async with self._lock:
            await self._db.execute("INSERT OR REPLACE INTO mailbox VALUES (?, ?)", (device, sequence))

    async def _entries(self, where: str, args: tuple[object, ...] = ()) -> list[Entry]:
        async with self._lock, self._db.execute(f"SELECT * FROM commands {where}", args) as cur:
            rows = await cur.fetchall()
        return [
            Entry(uuid.UUID(i), d, a, iss, exp, acc, ResultState(s), fin)
            for i, d, a, iss, exp, acc, s, fin in rows
        ]
