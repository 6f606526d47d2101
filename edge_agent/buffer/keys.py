"""Batch keys, reserved durably in blocks: a key handed out can never name other content, even after a
crash.

``meta.seq_reserved`` is the highest ``seq`` the agent may ever have used. Keys are handed out from
memory; a transaction that takes keys (a seal, a group commit) and comes within half a block of the
reserve first raises it by a block (:data:`Keys.BLOCK`), in the same transaction. A key taken outside a
transaction — a fresh batch sent before its group commit (:meth:`Keys.take_live`) — is only ever one
already at or below the reserve on disk. A restarted agent starts at ``seq_reserved + 1``: past every
key it may have sent, committed or not (the keys of a crashed run's last block are skipped, never
reused).

``BLOCK = 0`` turns the reservation off: the file then holds only the highest key written, and a fresh
batch takes the next key whether or not it is covered. Only a test's runner does that
(``harness.faults.record_agent --no-key-reserve``), to show that the kill -9 test sees the key re-use
the reservation prevents.
"""

from __future__ import annotations

import sqlite3
from typing import ClassVar

import aiosqlite

from edge_agent.buffer.database import no_space, scalar


class Keys:
    BLOCK: ClassVar[int] = 4096

    def __init__(self, reserved: int) -> None:
        self.next = reserved + 1
        self.reserved = reserved  # durable: the file holds it

    @classmethod
    async def open(cls, db: aiosqlite.Connection) -> Keys:
        """Read the reserve (the caller holds the connection) and raise it by a block at once, so that
        fresh batches can leave before the first commit. No room to raise it: fresh readings wait for a
        commit that has room."""
        keys = cls(int(await scalar(db, "SELECT value FROM meta WHERE key = 'seq_reserved'") or 0))
        if cls.BLOCK:
            await db.execute("BEGIN IMMEDIATE")
            try:
                raised = await keys.cover(db, 0)
                await db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if db.in_transaction:
                    await db.execute("ROLLBACK")
                if not no_space(exc):
                    raise
            else:
                keys.covered(raised)
        return keys

    def take(self) -> int:
        """The next key, for a transaction that then calls :meth:`cover`."""
        seq, self.next = self.next, self.next + 1
        return seq

    def take_live(self) -> int | None:
        """The next key for a batch sent before it is written: None when the reserve on disk does not
        cover it yet (the next commit raises it)."""
        if self.BLOCK and self.next > self.reserved:
            return None
        return self.take()

    @property
    def low(self) -> bool:
        """Whether the next transaction should raise the reserve."""
        return bool(self.BLOCK) and self.next - 1 + self.BLOCK // 2 > self.reserved

    async def cover(self, db: aiosqlite.Connection, written: int) -> int | None:
        """In the caller's transaction: make the reserve cover every key handed out (and ``written``, the
        highest key this transaction writes); the new reserve, to give :meth:`covered` once the
        transaction committed — None when it did not change."""
        if self.BLOCK:
            new = self.next - 1 + self.BLOCK if self.low else None
        else:
            new = written if written > self.reserved else None
        if new is not None:
            await db.execute("UPDATE meta SET value = ? WHERE key = 'seq_reserved'", (str(new),))
        return new

    def covered(self, reserved: int | None) -> None:
        if reserved is not None:
            self.reserved = max(self.reserved, reserved)
