"""The uplink's side of the buffer: the units to send (live, backlog, re-sends), and what the collector
answers — a confirmation (the next group commit deletes the unit) or a rejection (kept in
``dead_letter``, counted). Every unit handed out is remembered as possibly sent (:class:`.groups.Depth`)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence

from edge_agent.buffer import chunks
from edge_agent.buffer.access import Access
from edge_agent.buffer.chunks import SealedBatch
from edge_agent.buffer.database import count, no_space
from edge_agent.buffer.groups import Depth
from edge_agent.buffer.live import LiveBatch, Unwritten
from edge_agent.buffer.tally import Tally
from edge_agent.clock import Clock
from edge_agent.counters import Counter

log = logging.getLogger(__name__)


class Outgoing:
    def __init__(
        self,
        *,
        access: Access,
        gateway: str,
        epoch: str,
        clock: Clock,
        depth: Depth,
        unwritten: Unwritten,
        tally: Tally,
        wake_writer: Callable[[], None],
    ) -> None:
        self.access = access
        self.gateway = gateway
        self.epoch = epoch
        self._clock = clock
        self._depth = depth
        self._unwritten = unwritten
        self._tally = tally
        self._wake_writer = wake_writer
        self._quiet = False  # a rejection found no room (logged once)

    async def backlog(self, after: int, upto: int, limit: int) -> tuple[list[SealedBatch], bool]:
        """Closed units with ``after < key <= upto``, oldest first, at most ``limit``; and whether more
        may follow (the limit was reached, or the open group lies in the range: it closes at the next
        commit once the link is up)."""
        async with self.access.locked() as db:
            ids = await chunks.unit_ids(
                db, after=after, upto=upto, open_group=self._depth.open_group, limit=limit
            )
            ids = [g for g in ids if g not in self._depth.confirmed]
            parts = await chunks.load_parts(db, ids)
        found = chunks.units_of(self.gateway, self.epoch, ids, parts)
        fresh = [b for b in self._unwritten.batches() if after < b.key.seq <= upto]
        have = {b.key.seq for b in found}
        units = sorted([*found, *(b for b in fresh if b.key.seq not in have)], key=lambda b: b.key.seq)
        if len(units) > limit:
            units = units[:limit]
        self._hand(units)
        more = len(units) >= limit or after < self._depth.open_group <= upto
        return units, more

    async def units(self, keys: Sequence[int]) -> list[SealedBatch]:
        """These units, those that still wait for their confirmation (a re-send, a live unit)."""
        if not keys:
            return []
        asked = set(keys)
        fresh = {b.key.seq: b for b in self._unwritten.batches() if b.key.seq in asked}
        wanted = [k for k in keys if k not in fresh and k not in self._depth.confirmed]
        async with self.access.locked() as db:
            parts = await chunks.load_parts(db, wanted)
        found = {b.key.seq: b for b in chunks.units_of(self.gateway, self.epoch, wanted, parts)}
        units = [u for k in keys if (u := fresh.get(k) or found.get(k)) is not None]
        self._hand(units)
        return units

    def _hand(self, units: Sequence[SealedBatch]) -> None:
        for u in units:
            self._depth.handed[u.key.seq] = u.readings

    async def sealed(self, limit: int = 1000) -> list[SealedBatch]:
        """Closed units not yet confirmed, oldest first (after a restart: all of them to re-send), fresh
        batches sent and not written yet included."""
        units, _ = await self.backlog(0, 2**63 - 1, limit)
        return units

    async def close_group(self) -> None:
        """Close the open backlog group now (tests, tools): it becomes sendable. The writer closes it by
        itself at its first commit once the link is up."""
        try:
            async with self.access.transaction() as db:  # under the lock: no commit plans meanwhile
                if not self._depth.open_group:
                    return
                await db.execute("UPDATE meta SET value = '0' WHERE key = 'open_group'")
                await count(db, Counter.SEALED, self._depth.unsealed)
        except sqlite3.OperationalError as exc:
            if not no_space(exc):
                raise
            log.warning("buffer: no room to close the open group (%s); it is tried again", exc)
            return
        self._depth.open_group, self._depth.unsealed = 0, 0

    async def ack(self, seqs: Sequence[int]) -> int:
        """The collector stored these units: the next commit deletes them (a crash before it re-sends
        them, and the collector confirms them again). Returns how many readings they hold, as far as
        this run handed them out. A fresh batch not written yet never will be: its ``append`` calls are
        answered now."""
        confirmed = self._unwritten.confirm(seqs)
        n = 0
        for live in confirmed:
            live.answer()
            n += live.batch.readings
            self._depth.handed.pop(live.batch.key.seq, None)
        for name in (Counter.COMMITTED, Counter.SEALED, Counter.CONFIRMED):
            self._tally.add(name, n)
        done = {live.batch.key.seq for live in confirmed}
        rest = [s for s in seqs if s not in done]
        if rest:
            n += sum(self._depth.handed.get(s, 0) for s in rest)
            self._depth.confirmed.update(rest)
            self._wake_writer()  # deleted with the next commit
        return n

    async def reject(self, seqs: Sequence[int], reason: str) -> int:
        """The collector quarantined these units: keep them in ``dead_letter``, counted; stop re-sending.
        Returns their readings (0: no room to record it; they are re-sent and rejected again)."""
        if not seqs:
            return 0
        fresh = self._unwritten.confirm(seqs)
        try:
            n = await self._dead_letter(seqs, fresh, reason)
        except sqlite3.OperationalError as exc:
            if not no_space(exc):
                raise
            for live in fresh:
                self._unwritten.add(live)
            (log.debug if self._quiet else log.warning)(
                "buffer: no room to record rejected batches (%s); nothing is lost, it is tried again", exc
            )
            self._quiet = True
            return 0
        self._quiet = False
        for live in fresh:
            live.answer()
        for s in seqs:
            self._depth.handed.pop(s, None)
        if n:
            log.error("collector rejected batches %s (%d readings): %s", list(seqs), n, reason)
        return n

    async def _dead_letter(self, seqs: Sequence[int], fresh: list[LiveBatch], reason: str) -> int:
        at = self._clock.now_ms()
        async with self.access.transaction() as db:
            written = [k for k in seqs if k not in {f.batch.key.seq for f in fresh}]
            units = [
                *await chunks.load_units(db, self.gateway, self.epoch, written),
                *(f.batch for f in fresh),
            ]
            await db.executemany(
                "INSERT OR IGNORE INTO dead_letter VALUES (?, ?, ?, ?, ?)",
                [(u.key.seq, at, u.readings, reason, u.payload) for u in units],
            )
            await chunks.delete_units(db, written)
            n = chunks.readings_of(units)
            unwritten = chunks.readings_of(f.batch for f in fresh)  # never written: counted as they go
            await count(db, Counter.COMMITTED, unwritten)
            await count(db, Counter.SEALED, unwritten)
            await count(db, Counter.REJECTED, n)
        return n
