"""The write path: group commit. Readings handed to :meth:`GroupCommit.submit` wait for the next commit
(one per ``commit_interval_s`` at most, to spare the SD card: the first reading after a quiet spell
waits the interval too, so that the uplink can take it first); their future is done once they are
durable, or fails with :class:`BufferFull` when there was no room for them even after making room (they
are counted as ``readings_dropped_disk_full_total``, in the database or, while it has no room, in
:mod:`.refusals`).

While they wait, the uplink may :meth:`GroupCommit.take` them into a fresh batch it sends at once
(:mod:`.live`): the commit then writes that batch instead of their rows, and a confirmation that comes
first answers them without any write. Each commit also writes the routine counts (:mod:`.tally`) and
keeps the key reserve ahead of the keys handed out (:mod:`.keys`).

:meth:`GroupCommit.run` is the writer: a long-running task its owner supervises. If it dies, every
reading still waiting gets the error (no caller waits forever) and the task ends with it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence

from edge_agent.buffer import chunks
from edge_agent.buffer.access import Access
from edge_agent.buffer.chunks import Chunk
from edge_agent.buffer.database import count, no_space
from edge_agent.buffer.disk import DiskSpace
from edge_agent.buffer.errors import BufferFull, WriterStopped
from edge_agent.buffer.groups import Depth, apply, plan
from edge_agent.buffer.keys import Keys
from edge_agent.buffer.live import LiveBatch, Unwritten
from edge_agent.buffer.refusals import Refusals
from edge_agent.buffer.room import Room
from edge_agent.buffer.tally import EVERY_S, Tally
from edge_agent.clock import Clock
from edge_agent.counters import Counter
from wire.points import Reading
from wire.telemetry import BatchKey

log = logging.getLogger(__name__)

Pending = list[tuple[Sequence[Reading], asyncio.Future[None]]]


class GroupCommit:
    def __init__(
        self,
        *,
        access: Access,
        gateway: str,
        epoch: str,
        clock: Clock,
        batch_readings: int,
        group_readings: int,
        room: Room,
        space: DiskSpace,
        refusals: Refusals,
        depth: Depth,
        keys: Keys,
        tally: Tally,
        unwritten: Unwritten,
        commit_interval_s: float,
    ) -> None:
        self._access = access
        self._keys = keys
        self._tally = tally
        self.unwritten = unwritten
        self._gateway = gateway
        self._epoch = epoch
        self._clock = clock
        self._batch_readings = batch_readings
        self._group_readings = group_readings
        self.live_units: collections.deque[int] = collections.deque()  # closed connected: to send
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
        self.fresh: list[Callable[[], None]] = []  # called when readings start to wait (the uplink may take)
        self.before_commit: list[Callable[[], None]] = []  # called just before a commit takes what waits
        self.waiting_since = 0.0  # loop time the oldest waiting submission arrived
        self._last_write = 0.0  # loop time of the last commit

    @property
    def refusing(self) -> bool:
        """The last commit found no room: fresh readings are not sent before they are committed."""
        return self._refusing or self._space.full or self._closing or self._stopped is not None

    def submit(self, readings: Sequence[Reading]) -> asyncio.Future[None]:
        """Queue ``readings`` for the next commit; the future is done when they are durable."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._stopped is not None:
            fut.set_exception(WriterStopped(f"the buffer's writer stopped: {self._stopped!r}"))
            return fut
        if not self._pending:
            self.waiting_since = asyncio.get_running_loop().time()
            for listener in self.fresh:  # the first to wait: the uplink may send them before the card
                listener()
        self._pending.append((readings, fut))
        self._wake.set()
        return fut

    def take(self, max_readings: int) -> Pending:
        """Whole submissions from the head of the queue, up to ``max_readings`` (none when the first is
        larger: it is committed as rows and sealed), for the uplink to send before their commit;
        :meth:`give_back` if it cannot."""
        taken: Pending = []
        n = 0
        while self._pending and n + len(self._pending[0][0]) <= max_readings:
            entry = self._pending.pop(0)
            taken.append(entry)
            n += len(entry[0])
        if self._pending:
            self.waiting_since = asyncio.get_running_loop().time()
        return taken

    def give_back(self, taken: Pending) -> None:
        self._pending[:0] = taken

    @property
    def waiting(self) -> int:
        """Submissions waiting for the next commit."""
        return len(self._pending)

    def sent(self, live: LiveBatch) -> None:
        """A batch of taken readings was sent: the next commit writes it."""
        self.unwritten.add(live)
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

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
            stopped = WriterStopped(f"the buffer's writer stopped: {exc!r}")
            for _, fut in pending:
                if not fut.done():
                    fut.set_exception(stopped)
            for live in self.unwritten.start_writing():
                live.answer(stopped)
            raise
        self._stopped = WriterStopped("closed")
        left, self._pending = self._pending, []  # no room at the close: neither written nor confirmed
        unwritten = WriterStopped("closed before these readings were written or confirmed")
        for _, fut in left:
            if not fut.done():
                fut.set_exception(unwritten)
        for live in self.unwritten.start_writing():
            live.answer(unwritten)
        self.unwritten.done_writing(True)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            quiet = self._tally and not self._pending and not self.unwritten.sent
            timeout = max(0.0, self._last_write + EVERY_S - loop.time()) if quiet else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            final = self._closing  # a round that began after stop(): it writes everything, counts too
            if not final:
                await asyncio.sleep(self._commit_interval_s)  # later readings join; the uplink may take
            self._wake.clear()
            if self._pending and not self.refusing:
                for hook in self.before_commit:  # the uplink takes what it can send now
                    hook()
            pending, self._pending = self._pending, []
            # A fresh batch gets half an interval for its confirmation before it is written.
            young = loop.time() - self._commit_interval_s / 2
            live = self.unwritten.start_writing(None if final else young)
            due = final or loop.time() - self._last_write >= EVERY_S
            written = True
            depth = self._depth
            groups = depth.confirmed or (depth.online and depth.open_group)  # deletes, a group to close
            if pending or live or groups or (self._tally and due):
                written = await self._commit_pending(pending, live)
            else:
                self.unwritten.done_writing(True)
            if final and not (written and (self._pending or self.unwritten.sent)):
                return  # all written — or no room even for that: what is left stays unwritten
            if self._closing or self.unwritten.sent:  # more to write (sent: not written for lack of room)
                self._wake.set()
            if self._space.due() and not self._closing:
                await self._room.look()

    async def _commit_pending(self, pending: Pending, live: list[LiveBatch]) -> bool:
        """Commit; whether it was written (False: no room, or an error the waiting callers got)."""
        try:
            stored = await self._commit([r for rs, _ in pending for r in rs], live)
        except Exception as exc:  # a failed commit must reach every waiting poller, not kill the loop
            for _, fut in pending:
                if not fut.done():
                    fut.set_exception(exc)
            for batch in live:
                batch.answer(exc)
            self.unwritten.done_writing(True)
            return False
        self._last_write = asyncio.get_running_loop().time()
        self.unwritten.done_writing(stored)
        for rs, fut in pending:
            if not fut.done():
                if stored:
                    fut.set_result(None)
                else:
                    fut.set_exception(BufferFull(len(rs), "no room for them, even after making room"))
        if stored:
            for batch in live:
                batch.answer()
            for listener in self.listeners:
                listener()
            await self._room.keep(force=False)
        return stored

    async def _commit(self, readings: Sequence[Reading], live: list[LiveBatch]) -> bool:
        """Commit ``readings`` and the fresh batches ``live``; False when there is no room for them even
        after making room: then the readings are counted (``readings_dropped_disk_full_total``,
        persisted with the next commit that succeeds) and the batches, sent already, wait for the next
        commit or their confirmation."""
        try:
            await self._insert(readings, live)
        except sqlite3.OperationalError as exc:
            if not no_space(exc):
                raise
            await self._room.make()
            try:
                await self._insert(readings, live)
            except sqlite3.OperationalError as again:
                if not no_space(again):
                    raise
                if readings:
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

    async def _insert(self, readings: Sequence[Reading], live: list[LiveBatch]) -> None:
        carried = self._refusals.uncounted  # refused earlier: counted in these readings' transaction
        depth = self._depth
        confirmed = sorted(depth.confirmed)
        parts = _parts(readings, self._batch_readings)
        in_batches = sum(b.batch.readings for b in live)
        async with self._access.transaction() as db:
            # Planned under the lock: a close of the open group (or a drop in it) cannot come between.
            done = plan(
                [len(p) for p in parts],
                online=depth.online,
                depth=depth,
                keys=self._keys,
                group_readings=self._group_readings,
            )
            now = self._clock.now_ms()
            new = [
                Chunk.encode(BatchKey(self._gateway, self._epoch, seq), grp, now, part)
                for (seq, grp), part in zip(done.chunks, parts, strict=True)
            ]
            new += [Chunk.of_batch(b.batch, b.created_ms, b.newest_ts) for b in live]
            sealed = sum(c.readings for c in new if c.grp in done.closed)
            sealed += depth.unsealed if depth.open_group in done.closed else 0
            gone = await chunks.delete_units(db, confirmed)
            await chunks.insert(db, new)
            if done.open_group != depth.open_group:
                await db.execute(
                    "UPDATE meta SET value = ? WHERE key = 'open_group'", (str(done.open_group),)
                )
            await count(db, Counter.COMMITTED, len(readings) + in_batches)
            await count(db, Counter.SEALED, sealed + in_batches)
            await count(db, Counter.CONFIRMED, gone)
            await count(db, Counter.DROPPED_DISK_FULL, carried)
            counted = await self._tally.write(db)
            reserved = await self._keys.cover(db, max((c.seq for c in new), default=0))
        self._tally.written(counted)
        self._keys.covered(reserved)
        apply(depth, done)
        depth.confirmed.difference_update(confirmed)
        for grp in confirmed:
            depth.handed.pop(grp, None)
        self.live_units.extend(done.live)
        self._refusing = False
        if carried:
            self._refusals.counted_in_database(carried)
            log.info(
                "buffer commits again; %d readings could not be committed (readings_dropped_disk_full_total)",
                carried,
            )


def _parts(readings: Sequence[Reading], n: int) -> list[Sequence[Reading]]:
    return [readings[i : i + n] for i in range(0, len(readings), n)]
