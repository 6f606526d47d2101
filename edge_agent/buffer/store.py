"""The buffer: readings wait here (SQLite, WAL, synchronous=FULL) until the centre confirms them.

A reading's life: ``append`` (group-committed; when ``append`` returns, the reading is durable) →
``seal`` (moved, in one transaction, into a batch with a never-reused key ``(epoch, seq)`` and its
encoded payload) → published by the uplink → ``ack`` (confirmed stored: deleted), ``reject``
(quarantined by the collector: kept in ``dead_letter`` and counted) or nothing (stays sealed and is
re-sent; after a restart every sealed batch is re-sent with the same key and the same bytes).

``synchronous=FULL``: in WAL mode each commit is fsynced, so a power cut keeps every committed
transaction. Commits are grouped (one per ``commit_interval_s`` at most) to spare the SD card.

No room — the cap, or a full disk (:mod:`edge_agent.buffer.disk`) — is a condition, not a failure: the
buffer gets its WAL going again, gives data up under the ``when_full`` policy (:mod:`.room`, counted)
and commits. Readings it still cannot commit are counted as ``readings_dropped_disk_full_total`` and
``append`` raises :class:`BufferFull`, which its callers take in their stride (the count survives a full disk
and a restart: :mod:`.refusals`). Seal, ack and reject that find no
room lose nothing (they are tried again). Any other database error stops the agent (systemd restarts it).

The parts: :mod:`.access` (the connection and its lock), :mod:`.writer` (group commit; its task is
started by :meth:`Buffer.start` and supervised by its owner), :mod:`.series` (series ids),
:mod:`.batches` (seal, ack, reject), :mod:`.room` and :mod:`.bounds` (the cap and the policies),
:mod:`.stats`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from edge_agent.buffer.access import Access
from edge_agent.buffer.batches import Batches, SealedBatch
from edge_agent.buffer.bounds import Depth
from edge_agent.buffer.database import scalar
from edge_agent.buffer.disk import DiskSpace
from edge_agent.buffer.keys import Keys
from edge_agent.buffer.live import LiveBatch, Unwritten
from edge_agent.buffer.refusals import Refusals
from edge_agent.buffer.retention import Retention
from edge_agent.buffer.room import Room, open_with_room
from edge_agent.buffer.series import SeriesIds
from edge_agent.buffer.stats import BufferStats, read_stats
from edge_agent.buffer.tally import Tally
from edge_agent.buffer.writer import BufferFull, GroupCommit, WriterStopped
from edge_agent.clock import Clock
from edge_agent.counters import Counter
from wire.points import Reading, value_flaw
from wire.telemetry import BatchKey, encode_batch

__all__ = ["Buffer", "BufferFull", "BufferStats", "SealedBatch", "Spawn", "WriterStopped"]

log = logging.getLogger(__name__)


Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[None]"]
"""Runs the writer as a named task (a ``TaskGroup``'s, so that it is supervised); ``asyncio.create_task``
when none is given."""


class Buffer:
    """Open with :meth:`open`; all methods are coroutines; one writer connection."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        *,
        gateway: str,
        epoch: str,
        clock: Clock,
        space: DiskSpace,
        refusals: Refusals,
        commit_interval_s: float,
        series: SeriesIds,
        keys: Keys,
        unsealed: int = 0,
        retention: Retention | None = None,
    ) -> None:
        self.gateway = gateway
        self.epoch = epoch
        self.access = Access(db)
        self._clock = clock
        self._keys = keys
        self._tally = Tally()
        self._unwritten = Unwritten()
        self._space = space
        self._refusals = refusals
        self._depth = Depth(unsealed)
        self._room = Room(
            access=self.access,
            space=space,
            page_size=space.plan.page_size,
            policy=retention or Retention(),
            clock=clock,
            depth=self._depth,
        )
        self._writer = GroupCommit(
            access=self.access,
            series=series,
            room=self._room,
            space=space,
            refusals=refusals,
            depth=self._depth,
            keys=keys,
            tally=self._tally,
            unwritten=self._unwritten,
            commit_interval_s=commit_interval_s,
        )
        self._batches = Batches(
            access=self.access,
            gateway=gateway,
            epoch=epoch,
            clock=clock,
            depth=self._depth,
            keys=keys,
            tally=self._tally,
        )
        self._task: asyncio.Task[None] | None = None
        self.listeners: list[Callable[[], None]] = self._writer.listeners  # after every commit
        self.fresh_listeners: list[Callable[[], None]] = self._writer.fresh  # when readings arrive

    @property
    def unsealed(self) -> int:
        """Readings committed and not yet sealed (kept in memory, counted at open)."""
        return self._depth.unsealed

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        gateway: str,
        clock: Clock,
        max_bytes: int = 256 << 20,
        commit_interval_s: float = 0.1,
        retention: Retention | None = None,
        disk_check_s: float = 5.0,
        start: bool = True,
    ) -> Buffer:
        """Open (or create) the buffer at ``path``; ``disk_check_s``: how often the filesystem's free
        space is looked at again (other processes eat space too). ``start=False``: the caller starts the
        writer with :meth:`start` (in its task group)."""
        db, epoch, space = await open_with_room(path, max_bytes=max_bytes, clock=clock, check_s=disk_check_s)
        try:
            series = await SeriesIds.load(db)
            keys = await Keys.open(db)
            unsealed = int(await scalar(db, "SELECT COUNT(*) FROM readings"))
            counted = await scalar(
                db, "SELECT value FROM counters WHERE name = ?", (str(Counter.DROPPED_DISK_FULL),)
            )
            refusals = await Refusals.open(path, epoch, int(counted or 0))
        except BaseException:
            await db.close()
            raise
        buf = cls(
            db,
            gateway=gateway,
            epoch=epoch,
            clock=clock,
            space=space,
            refusals=refusals,
            commit_interval_s=commit_interval_s,
            series=series,
            keys=keys,
            unsealed=unsealed,
            retention=retention,
        )
        if start:
            buf.start()
        return buf

    def start(self, spawn: Spawn | None = None) -> asyncio.Task[None]:
        """Start the writer (group commit) as a task made by ``spawn``; it runs until :meth:`close`. If
        it fails, the task ends with the error: its owner must watch it (a ``TaskGroup`` does)."""
        if self._task is not None:
            raise RuntimeError("the buffer's writer is already started")
        writer, name = self._writer.run(), "buffer-writer"
        self._task = spawn(writer, name) if spawn else asyncio.create_task(writer, name=name)
        return self._task

    async def close(self) -> None:
        if self._task is not None:
            # Readings handed over before the stop are committed first — even those of a poller that
            # was cancelled while it waited: a clean stop costs nothing.
            self._writer.stop()
            done, _ = await asyncio.wait({self._task}, timeout=10)
            if not done:
                log.warning("the buffer's last commit did not finish within 10 s; closing anyway")
                self._task.cancel()
                await asyncio.wait({self._task})
        if self._refusals.uncounted:  # the disk is still full: the count waits in its own file
            log.warning(
                "closing the buffer with %d refused readings not yet in readings_dropped_disk_full_total "
                "(kept in %s)",
                self._refusals.uncounted,
                self._refusals.path,
            )
        await self.access.db.close()

    # ---- the write path --------------------------------------------------------------------------
    async def append(self, readings: Sequence[Reading]) -> None:
        """Return once ``readings`` are committed (durable). Group-committed with concurrent callers.

        Raises :class:`BufferFull` when there is no room for them even after making room (the buffer
        has counted them as ``readings_dropped_disk_full_total``; go on), :class:`WriterStopped` when
        the writer does not run (it failed: its owner stops the agent), and ValueError for a reading the
        contract forbids (:func:`wire.points.value_flaw`): a bug in its producer."""
        if not readings:
            return
        for r in readings:  # refused here, at its producer, not later when its batch is sealed
            if (flaw := value_flaw(r.quality, r.value)) is not None:
                raise ValueError(f"{r.device}.{r.point}: {flaw}")
        # Shielded: a caller cancelled while it waits (a clean stop) does not take its readings back;
        # they are committed with the others, and by close() at the latest.
        await asyncio.shield(self._writer.submit(readings))

    async def enforce_bounds(self) -> dict[Counter, int]:
        """Apply the age bound and, past the high-water mark of the cap, the ``when_full`` policy."""
        return await self._room.bounds.apply()

    # ---- the uplink path -------------------------------------------------------------------------
    async def seal(
        self, max_readings: int, *, after_id: int | None = None, upto_id: int | None = None
    ) -> SealedBatch | None:
        """Move up to ``max_readings`` of the oldest unsealed readings into a new batch.

        ``after_id`` / ``upto_id`` restrict it to a range of the buffer (the uplink seals fresh readings
        apart from the backlog); within a range, oldest first, so each series stays in order.
        None: nothing to seal — or no space to seal it now (the readings stay where they are; logged).
        """
        return await self._batches.seal(max_readings, after_id, upto_id)

    def take_fresh(self, max_readings: int) -> SealedBatch | None:
        """Readings still waiting for their group commit, up to ``max_readings`` (whole ``append`` calls),
        as a batch under a key from the reserved block, to send now (the uplink is idle). The next group
        commit writes the batch instead of the readings' rows; its confirmation, if it comes first,
        answers their ``append`` calls without any write. None: nothing waits, no key is covered by the
        reserve yet, or the buffer is refusing readings (no room) or closing."""
        if self._writer.refusing:
            return None
        taken = self._writer.take(max_readings)
        if not taken:
            return None
        seq = self._keys.take_live()
        if seq is None:
            self._writer.give_back(taken)
            return None
        readings = [r for rs, _ in taken for r in rs]
        key = BatchKey(self.gateway, self.epoch, seq)
        batch = SealedBatch(key, len(readings), min(r.ts_ms for r in readings), encode_batch(key, readings))
        waiting = [(len(rs), fut) for rs, fut in taken]
        sent_at = asyncio.get_running_loop().time()
        self._writer.sent(LiveBatch(batch, self._clock.now_ms(), waiting, sent_at))
        return batch

    async def last_id(self) -> int:
        """The id of the newest unsealed reading (0 when none): where "the backlog" ends right now."""
        async with self.access.locked() as db:
            return int(await scalar(db, "SELECT COALESCE(MAX(id), 0) FROM readings"))

    async def count_after(self, after_id: int) -> int:
        async with self.access.locked() as db:
            return int(await scalar(db, "SELECT COUNT(*) FROM readings WHERE id > ?", (after_id,)))

    async def sealed(self, limit: int = 1000) -> list[SealedBatch]:
        """Sealed batches not yet confirmed, oldest first (after a restart: all of them to re-send),
        fresh batches sent and not written yet included."""
        written = await self._batches.sealed(limit)
        seqs = {b.key.seq for b in written}
        fresh = [b for b in self._unwritten.batches() if b.key.seq not in seqs]
        return sorted([*written, *fresh], key=lambda b: b.key.seq)[:limit]

    async def ack(self, seqs: Sequence[int]) -> int:
        """The collector stored these batches: delete them. Returns how many readings left the buffer —
        0 when there was no space even to delete them: they stay, are re-sent and confirmed again. A
        fresh batch not written yet never will be: its ``append`` calls are answered now."""
        confirmed = self._unwritten.confirm(seqs)
        n = 0
        for live in confirmed:
            live.answer()
            n += live.batch.readings
        for name in (Counter.COMMITTED, Counter.SEALED, Counter.CONFIRMED):
            self._tally.add(name, n)
        done = {live.batch.key.seq for live in confirmed}
        n += await self._batches.finish([s for s in seqs if s not in done], Counter.CONFIRMED, None)
        self._writer.wake()  # the counts are written with the next commit, or within tally.EVERY_S
        return n

    async def reject(self, seqs: Sequence[int], reason: str) -> int:
        """The collector quarantined these batches: keep them in dead_letter, counted; stop re-sending."""
        n = await self._batches.finish(seqs, Counter.REJECTED, reason)
        if n:
            log.error("collector rejected batches %s (%d readings): %s", list(seqs), n, reason)
        return n

    async def stats(self) -> BufferStats:
        async with self.access.locked() as db:
            return await read_stats(
                db,
                depth=self._depth,
                space=self._space,
                refusals=self._refusals,
                tally=self._tally.pending,
                unwritten=self._unwritten.batches(),
            )
