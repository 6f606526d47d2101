"""The buffer: readings wait here (SQLite, WAL, synchronous=FULL) until the centre confirms them.

A reading's life: ``append`` (group-committed; when ``append`` returns, the reading is durable — or
already confirmed) → written once, inside a chunk that is the batch payload it travels in
(:mod:`.chunks`; while the uplink is idle it leaves before the commit, :mod:`.live`) → published by
the uplink, alone or in its backlog group (:mod:`.groups`) → ``ack`` (confirmed stored: deleted by
the next commit), ``reject`` (quarantined by the collector: kept in ``dead_letter`` and counted) or
nothing (re-sent; after a restart every closed unit is re-sent with the same key and the same bytes).

``synchronous=FULL``: in WAL mode each commit is fsynced, so a power cut keeps every committed
transaction. Commits are grouped (one per ``commit_interval_s`` at most) to spare the SD card.

No room — the cap, or a full disk (:mod:`edge_agent.buffer.disk`) — is a condition, not a failure: the
buffer gets its WAL going again, gives data up under the ``when_full`` policy (:mod:`.room`, counted)
and commits. Readings it still cannot commit are counted as ``readings_dropped_disk_full_total`` and
``append`` raises :class:`BufferFull`, which its callers take in their stride (the count survives a full disk
and a restart: :mod:`.refusals`). A rejection that finds no room loses nothing (it is tried again).
Any other database error stops the agent (systemd restarts it).

The parts: :mod:`.access` (the connection and its lock), :mod:`.writer` (group commit; its task is
started by :meth:`Buffer.start` and supervised by its owner), :mod:`.chunks` and :mod:`.groups` (what
is written and sent), :mod:`.outgoing` (units out, answers in), :mod:`.keys`, :mod:`.room` and
:mod:`.bounds` (the cap and the policies), :mod:`.stats`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from edge_agent.buffer import chunks
from edge_agent.buffer.access import Access
from edge_agent.buffer.chunks import SealedBatch
from edge_agent.buffer.database import scalar
from edge_agent.buffer.disk import DiskSpace
from edge_agent.buffer.errors import BufferFull, WriterStopped
from edge_agent.buffer.groups import Depth
from edge_agent.buffer.keys import Keys
from edge_agent.buffer.live import LiveBatch, Unwritten
from edge_agent.buffer.outgoing import Outgoing
from edge_agent.buffer.refusals import Refusals
from edge_agent.buffer.retention import Retention
from edge_agent.buffer.room import Room, open_with_room
from edge_agent.buffer.stats import BufferStats, read_stats
from edge_agent.buffer.tally import Tally
from edge_agent.buffer.writer import GroupCommit
from edge_agent.clock import Clock
from edge_agent.counters import Counter
from wire.points import Reading, value_flaw
from wire.telemetry import BatchKey

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
        keys: Keys,
        depth: Depth | None = None,
        retention: Retention | None = None,
        batch_readings: int = 1000,
        group_readings: int = 1000,
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
        self._depth = depth or Depth(first_seq=keys.next)
        self._room = Room(
            access=self.access,
            space=space,
            page_size=space.plan.page_size,
            policy=retention or Retention(),
            clock=clock,
            depth=self._depth,
            gateway=gateway,
            epoch=epoch,
        )
        self._writer = GroupCommit(
            access=self.access,
            gateway=gateway,
            epoch=epoch,
            clock=clock,
            batch_readings=batch_readings,
            group_readings=group_readings,
            room=self._room,
            space=space,
            refusals=refusals,
            depth=self._depth,
            keys=keys,
            tally=self._tally,
            unwritten=self._unwritten,
            commit_interval_s=commit_interval_s,
        )
        self._out = Outgoing(
            access=self.access,
            gateway=gateway,
            epoch=epoch,
            clock=clock,
            depth=self._depth,
            unwritten=self._unwritten,
            tally=self._tally,
            wake_writer=self._writer.wake,
        )
        self._task: asyncio.Task[None] | None = None
        self.listeners: list[Callable[[], None]] = self._writer.listeners  # after every commit
        self.fresh_listeners: list[Callable[[], None]] = self._writer.fresh  # when readings start to wait
        self.before_commit: list[Callable[[], None]] = self._writer.before_commit  # the uplink's last chance
        self.live_units: collections.deque[int] = self._writer.live_units  # closed while connected

    @property
    def unsealed(self) -> int:
        """Readings committed in the open backlog group: not sendable until it closes."""
        return self._depth.unsealed

    @property
    def online(self) -> bool:
        """Whether the uplink is connected: then each commit's chunks are units of their own (sent as
        written, live); otherwise they join the open backlog group (:mod:`.groups`)."""
        return self._depth.online

    @online.setter
    def online(self, up: bool) -> None:
        if up != self._depth.online:
            self._depth.online = up
            if up and self._depth.open_group:
                self._writer.wake()  # the next commit closes the open group: it may leave then

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
        batch_readings: int = 1000,
        group_readings: int = 1000,
    ) -> Buffer:
        """Open (or create) the buffer at ``path``; ``disk_check_s``: how often the filesystem's free
        space is looked at again (other processes eat space too); ``batch_readings``: the most readings
        in a chunk; ``group_readings``: the least in a closed backlog group. ``start=False``: the caller
        starts the writer with :meth:`start` (in its task group)."""
        db, epoch, space = await open_with_room(
            path, gateway=gateway, max_bytes=max_bytes, clock=clock, check_s=disk_check_s
        )
        try:
            keys = await Keys.open(db)
            group = int(await scalar(db, "SELECT value FROM meta WHERE key = 'open_group'") or 0)
            held = await chunks.readings_in(db, [group]) if group else 0
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
            keys=keys,
            depth=Depth(unsealed=held, open_group=group, first_seq=keys.next),
            retention=retention,
            batch_readings=batch_readings,
            group_readings=group_readings,
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
        """Return once ``readings`` are committed (durable) or confirmed. Group-committed with concurrent
        callers.

        Raises :class:`BufferFull` when there is no room for them even after making room (the buffer
        has counted them as ``readings_dropped_disk_full_total``; go on), :class:`WriterStopped` when
        the writer does not run (it failed: its owner stops the agent), and ValueError for a reading the
        contract forbids (:func:`wire.points.value_flaw`): a bug in its producer."""
        if not readings:
            return
        for r in readings:  # refused here, at its producer, not later when its chunk is encoded
            if (flaw := value_flaw(r.quality, r.value)) is not None:
                raise ValueError(f"{r.device}.{r.point}: {flaw}")
        # Shielded: a caller cancelled while it waits (a clean stop) does not take its readings back;
        # they are committed with the others, and by close() at the latest.
        await asyncio.shield(self._writer.submit(readings))

    async def enforce_bounds(self) -> dict[Counter, int]:
        """Apply the age bound and, past the high-water mark of the cap, the ``when_full`` policy."""
        return await self._room.bounds.apply()

    # ---- the uplink path -------------------------------------------------------------------------
    def take_fresh(self, max_readings: int) -> SealedBatch | None:
        """Readings still waiting for their group commit, up to ``max_readings`` (whole ``append`` calls),
        as a batch under a key from the reserved block, to send now (the uplink is idle). The next group
        commit writes the batch as a chunk of its own; its confirmation, if it comes first, answers
        their ``append`` calls without any write. None: nothing waits, no key is covered by the reserve
        yet, or the buffer is refusing readings (no room) or closing."""
        if self._writer.refusing:
            return None
        taken = self._writer.take(max_readings)
        if not taken:
            return None
        seq = self._keys.take_live()
        if seq is None:
            self._writer.give_back(taken)
            return None
        live = LiveBatch.of(BatchKey(self.gateway, self.epoch, seq), taken, self._clock.now_ms())
        self._writer.sent(live)
        self._depth.handed[seq] = live.batch.readings
        return live.batch

    def fresh_age(self) -> float | None:
        """How long the oldest reading waiting for its commit has waited, s; None when none waits."""
        if not self._writer.waiting:
            return None
        return asyncio.get_running_loop().time() - self._writer.waiting_since

    def newest_key(self) -> int:
        """The highest key handed out so far: every unit at or below it exists already (the backlog)."""
        return self._keys.next - 1

    async def backlog(self, after: int, upto: int, limit: int) -> tuple[list[SealedBatch], bool]:
        """Closed units with ``after < key <= upto``, oldest first, at most ``limit``; and whether more
        may follow (:meth:`.outgoing.Outgoing.backlog`)."""
        return await self._out.backlog(after, upto, limit)

    async def units(self, keys: Sequence[int]) -> list[SealedBatch]:
        """These units, those that still wait for their confirmation (a re-send, a live unit)."""
        return await self._out.units(keys)

    async def sealed(self, limit: int = 1000) -> list[SealedBatch]:
        """Closed units not yet confirmed, oldest first (after a restart: all of them to re-send), fresh
        batches sent and not written yet included."""
        return await self._out.sealed(limit)

    async def close_group(self) -> None:
        """Close the open backlog group now (tests, tools): it becomes sendable."""
        await self._out.close_group()

    async def ack(self, seqs: Sequence[int]) -> int:
        """The collector stored these units: the next commit deletes them; their readings, as far as
        this run handed them out (:meth:`.outgoing.Outgoing.ack`)."""
        return await self._out.ack(seqs)

    async def reject(self, seqs: Sequence[int], reason: str) -> int:
        """The collector quarantined these units: kept in ``dead_letter``, counted; 0: no room to record
        it (they are re-sent and rejected again)."""
        return await self._out.reject(seqs, reason)

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
