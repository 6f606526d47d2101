"""The buffer's one connection and the lock every use of it holds.

One connection serves the write loop, the uplink and the status readers, all on one event loop: every
transaction (and every multi-statement read) holds this lock, so their statements never interleave
inside another's transaction. The buffer's parts (:mod:`.writer`, :mod:`.batches`, :mod:`.room`,
:mod:`.bounds`) are each given the one :class:`Access`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiosqlite


class Access:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` under the lock; rolled back on any exception."""
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                await self.db.execute("COMMIT")  # a COMMIT that fails (no room) must not stay open
            except BaseException:
                if self.db.in_transaction:
                    await self.db.execute("ROLLBACK")
                raise

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection under the lock, for reads (and statements outside a transaction)."""
        async with self._lock:
            yield self.db
