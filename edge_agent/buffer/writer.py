"""The write path: group commit. Readings handed to :meth:`GroupCommit.submit` wait for the next commit
(one per ``commit_interval_s`` at most, to spare the SD card); their future is done once they are
durable, or fails with :class:`BufferFull` when there was no room for them even after making room (they
are counted as ``readings_dropped_disk_full_total``, in the database or, while it has no room, in
:mod:`.refusals`).

:meth:`GroupCommit.run` is the writer: a long-running task its owner supervises. If it dies, every
reading still waiting gets the error (no caller waits forever) and the task ends with it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Sequence

from edge_agent.buffer.access import Access
from edge_agent.buffer.bounds import Depth
from edge_agent.buffer.database import count, no_space
from edge_agent.buffer.disk import DiskSpace
from edge_agent.buffer.refusals import Refusals
from edge_agent.buffer.room import Room
from edge_agent.buffer.series import SeriesIds
from edge_agent.counters import Counter
from wire.points import Reading

log = logging.getLogger(__name__)

Pending = list[tuple[Sequence[Reading], asyncio.Future[None]]]


class BufferFull(Exception):
    """``append`` could not commit: no room, even after the buffer made room inside its file. The
    readings were counted as ``readings_dropped_disk_full_total``; the caller goes on (every commit tries
    again)."""

    def __init__(self, readings: int, reason: str) -> None:
        super().__init__(f"{readings} readings not committed: {reason}")
        self.readings = readings
        self.reason = reason


class WriterStopped(Exception):
    """The buffer's writer is not running (it failed, or the buffer is closed): nothing was committed."""


class GroupCommit:
    def __init__(
        self,
        *,
        access: Access,
        series: SeriesIds,
        room: Room,
        space: DiskSpace,
        refusals: Refusals,
        depth: Depth,
        commit_interval_s: float,
    ) -> None:
        self._access = access
        self._series = series
        self._room = room
        self._space = space
        self._refusals = refusals  # readings refused for lack of room, and how many are counted
        self._depth = depth
        self._commit_interval_s = commit_interval_s
        self._pending: Pending = []
        self._wake = asyncio.Event()
        self._closing = False  # asked to commit what is pending and stop
        self._stopped: BaseException | None = None  # why the writer no longer runs
        self._refusing = False  # the last commit found no room (logged once, at ERROR)
        self.listeners: list[Callable[[], None]] = []  # called after every commit (the uplink's wake-up)

    def submit(self, readings: Sequence[Reading]) -> asyncio.Future[None]:
        """Queue ``readings`` for the next commit; the future is done when they are durable."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._stopped is not None:
            fut.set_exception(WriterStopped(f"the buffer's writer stopped: {self._stopped!r}"))
            return fut
        self._pending.append((readings, fut))
        self._wake.set()
        return fut

    def stop(self) -> None:
        """Commit what is pending (even a cancelled caller's readings), then let :meth:`run` return."""
        self._closing = True
        self._wake.set()

    async def run(self) -> None:
        try:
            await self._loop()
        except BaseException as exc:
            self._stopped = exc
            pending, self._pending = self._pending, []
            for _, fut in pending:
                if not fut.done():
                    fut.set_exception(WriterStopped(f"the buffer's writer stopped: {exc!r}"))
            raise
        self._stopped = WriterStopped("closed")

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            pending, self._pending = self._pending, []
            if pending:
                await self._commit_pending(pending)
            if self._closing:
                if not self._pending:
                    return
                self._wake.set()
                continue
            if self._space.due():
                await self._room.look()
            await asyncio.sleep(self._commit_interval_s)

    async def _commit_pending(self, pending: Pending) -> None:
        try:
            stored = await self._commit([r for rs, _ in pending for r in rs])
        except Exception as exc:  # a failed commit must reach every waiting poller, not kill the loop
            for _, fut in pending:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for rs, fut in pending:
            if not fut.done():
                if stored:
                    fut.set_result(None)
                else:
                    fut.set_exception(BufferFull(len(rs), "no room for them, even after making room"))
        if stored:
            for listener in self.listeners:
                listener()
            await self._room.keep(force=False)

    async def _commit(self, readings: Sequence[Reading]) -> bool:
        """Commit ``readings``; False when there is no room for them even after making room: then they
        are counted (``readings_dropped_disk_full_total``, persisted with the next commit that succeeds)."""
        try:
            await self._insert(readings)
        except sqlite3.OperationalError as exc:
            if not no_space(exc):
                raise
            await self._room.make()
            try:
                await self._insert(readings)
            except sqlite3.OperationalError as again:
                if not no_space(again):
                    raise
                await self._refuse(len(readings), again)
                return False
        return True

    async def _refuse(self, n: int, exc: Exception) -> None:
        first, self._refusing = not self._refusing, True
        await self._refusals.refuse(n)
        dropped = self._space.dropped
        dropped[Counter.DROPPED_DISK_FULL] = dropped.get(Counter.DROPPED_DISK_FULL, 0) + n
        (log.error if first else log.debug)(
            "buffer: no room to commit %d readings (%s); counted as readings_dropped_disk_full_total, every "
            "commit tries again",
            n,
            exc,
        )

    async def _insert(self, readings: Sequence[Reading]) -> None:
        new: dict[tuple[str, str], int] = {}
        carried = self._refusals.uncounted  # refused earlier: counted in these readings' transaction
        async with self._access.transaction() as db:
            rows = await self._series.rows(db, readings, new)
            await db.executemany(
                "INSERT INTO readings (series, ts, value, is_bool, quality, reason) VALUES (?,?,?,?,?,?)",
                rows,
            )
            await count(db, Counter.COMMITTED, len(rows))
            await count(db, Counter.DROPPED_DISK_FULL, carried)
        self._series.remember(new)
        self._depth.unsealed += len(readings)
        self._refusing = False
        if carried:
            self._refusals.counted_in_database(carried)
            log.info(
                "buffer commits again; %d readings could not be committed (readings_dropped_disk_full_total)",
                carried,
            )
