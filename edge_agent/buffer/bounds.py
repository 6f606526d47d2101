"""Keeping the buffer inside its bounds, step by step: the age bound and, past the high-water mark of the
cap, the ``when_full`` policy (:mod:`edge_agent.buffer.retention` holds each step's SQL).

Every step is a transaction of its own that counts what it deletes, and gives up at most
``step_bytes`` of data: each page it frees is a frame in the write-ahead log, and the WAL's room is
bounded (:mod:`edge_agent.buffer.disk`) — one big delete would need more of it than a full disk has.
A step that finds no space raises (SQLITE_FULL); what was given up before it stays given up and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aiosqlite

from edge_agent.buffer import chunks, retention
from edge_agent.buffer.access import Access
from edge_agent.buffer.database import count, scalar
from edge_agent.buffer.disk import DiskSpace
from edge_agent.buffer.groups import Depth
from edge_agent.buffer.retention import Retention, WhenFull
from edge_agent.clock import Clock
from edge_agent.counters import Counter
from wire.telemetry import BatchKey

log = logging.getLogger(__name__)

MAX_STEPS = 50  # steps of the when_full policy per look at the bounds (the next commit goes on)


class Bounds:
    def __init__(
        self,
        *,
        access: Access,
        policy: Retention,
        space: DiskSpace,
        clock: Clock,
        depth: Depth,
        gateway: str,
        epoch: str,
        look_again: Callable[[], Awaitable[None]],
    ) -> None:
        self._access = access
        self._gateway = gateway
        self._epoch = epoch
        self._look_again = look_again  # at the disk: its cap may be stale (space came back)
        self.policy = policy
        self._space = space
        self._clock = clock
        self._depth = depth
        self._thin_pass: retention.ThinPass | None = None

    async def apply(self, *, force: bool = False) -> dict[Counter, int]:
        """Apply the bounds; returns what was dropped, by counter. ``force``: a write found the cap
        reached, so give up at least one step's worth even below the high-water mark."""
        policy = self.policy
        dropped = dict.fromkeys(
            (
                Counter.DROPPED_AGE,
                Counter.DROPPED_THINNED,
                Counter.DROPPED_BUFFER_FULL,
                Counter.DROPPED_UNCONFIRMED,
            ),
            0,
        )
        try:
            per_reading, rows = await self._step_rows()
            if policy.max_age_s is not None:
                cutoff = self._clock.now_ms() - int(policy.max_age_s * 1000)
                while True:
                    n, more = await self._drop_older(cutoff, rows)
                    dropped[Counter.DROPPED_AGE] += n
                    if not (n and more):
                        break
            cap = self._space.cap
            used = await self._used()
            if used > policy.high_water * cap and self._space.disk_bound:
                await self._look_again()  # never give data up for a disk cap that is out of date
                cap = self._space.cap
            if force or used > policy.high_water * cap:
                for step in range(MAX_STEPS):
                    if used <= policy.low_water * cap and not (force and step == 0):
                        break
                    # No further than the low-water mark: a step gives up about the bytes in excess
                    # of it (at least 100 readings), never more than the WAL's room allows.
                    excess = max(0, int(used - policy.low_water * cap))
                    want = min(rows, max(100, -(-excess // per_reading)))
                    if not await self._give_up_some(dropped, want):
                        break
                    used = await self._used()
        finally:
            self._log(dropped)
        return dropped

    def _log(self, dropped: dict[Counter, int]) -> None:
        if not any(dropped.values()):
            return
        space = self._space
        if space.disk_bound and any(
            dropped[k]
            for k in (Counter.DROPPED_BUFFER_FULL, Counter.DROPPED_THINNED, Counter.DROPPED_UNCONFIRMED)
        ):
            space.start_episode("the filesystem has less room than buffer.max_bytes")
        for name, n in dropped.items():
            space.dropped[name] = space.dropped.get(name, 0) + n
        (log.debug if space.full else log.error)(  # a disk-full episode was logged once, at its start
            "buffer bounds (%d bytes cap, %s): dropped %s readings",
            space.cap,
            self.policy.when_full.value,
            ", ".join(f"{n} {k.reason}" for k, n in dropped.items() if n),
        )

    async def _give_up_some(self, dropped: dict[Counter, int], rows: int) -> bool:
        """One step of the ``when_full`` policy, about ``rows`` readings; False when there was nothing
        left to give up."""
        if self.policy.when_full is WhenFull.THIN:
            n = await self._thin_step(rows)
            if n is not None:
                dropped[Counter.DROPPED_THINNED] += n
                return True
        # Nothing (left) to thin, or dropping: the oldest data goes. A unit that may have been sent (its
        # confirmation lost with the link) goes whole, counted apart: the centre knows which drops are
        # certain and which are "at most".
        certain = maybe = open_gone = 0
        gone: list[int] = []
        async with self._access.transaction() as db:
            for grp, n in await retention.units_oldest_first(db, 64):
                if grp in self._depth.confirmed:
                    continue  # confirmed: the next commit deletes it anyway
                if grp == self._depth.open_group:
                    seqs, held = [], 0
                    for seq, k in await retention.chunks_of(db, grp):
                        seqs.append(seq)
                        held += k
                        if certain + maybe + held >= rows:
                            break
                    open_gone = await chunks.delete_chunks(db, seqs)
                    certain += open_gone
                    break
                await chunks.delete_units(db, [grp])
                gone.append(grp)
                if self._depth.maybe_sent(grp):
                    maybe += n
                else:
                    certain += n
                if certain + maybe >= rows:
                    break
            await count(db, Counter.DROPPED_BUFFER_FULL, certain)
            await count(db, Counter.DROPPED_UNCONFIRMED, maybe)
        self._depth.unsealed -= open_gone
        self._forget(gone)
        dropped[Counter.DROPPED_BUFFER_FULL] += certain
        dropped[Counter.DROPPED_UNCONFIRMED] += maybe
        return certain + maybe > 0

    async def _drop_older(self, cutoff: int, rows: int) -> tuple[int, bool]:
        """Delete units (the open group: chunks) whose newest reading is older than ``cutoff``: the
        readings deleted, and whether more may be left (a step takes at most ``rows // 100`` of them)."""
        depth = self._depth
        limit = max(1, rows // 100)
        async with self._access.transaction() as db:
            units = await retention.units_oldest_first(db, limit, older_than=cutoff)
            # A confirmed unit is in the store: the next commit deletes it, counted as confirmed.
            whole = [g for g, _ in units if g != depth.open_group and g not in depth.confirmed]
            n = await chunks.delete_units(db, whole)
            open_gone, more = 0, len(units) >= limit or bool(depth.open_group and n >= rows)
            if depth.open_group and n < rows:
                old = await retention.chunks_of(db, depth.open_group, older_than=cutoff)
                open_gone = await chunks.delete_chunks(db, [s for s, _ in old][:limit])
                more = more or len(old) > limit
            await count(db, Counter.DROPPED_AGE, n + open_gone)
        depth.unsealed -= open_gone
        self._forget(whole)
        return n + open_gone, more

    def _forget(self, units: list[int]) -> None:
        """Units given up are no longer the uplink's: a confirmation that comes later finds no readings."""
        for grp in units:
            self._depth.handed.pop(grp, None)

    async def _thin_step(self, rows: int) -> int | None:
        """Thin the next chunks (about ``rows`` readings) of the oldest half of what was never sent; None
        when a whole pass over the half freed nothing: nothing is left to thin."""
        depth, keep = self._depth, self.policy.thin_keep
        async with self._access.transaction() as db:
            p = self._thin_pass
            if p is None:
                end = await self._half_of_unsent(db)
                if end is None:
                    return None
                p = retention.ThinPass(after=0, end=end)
            todo = await retention.chunks_between(db, p.after, p.end, max(1, rows // 100))
            n = open_gone = seen = 0
            upto = p.end
            for seq, grp, k, payload in todo:
                upto = seq
                if depth.maybe_sent(grp):
                    continue
                gone, _ = await retention.thin_chunk(
                    db, BatchKey(self._gateway, self._epoch, seq), payload, keep, p
                )
                n += gone
                open_gone += gone if grp == depth.open_group else 0
                seen += k
                if seen >= rows:
                    break
            await count(db, Counter.DROPPED_THINNED, n)
        depth.unsealed -= open_gone
        p.after, p.freed = upto, p.freed + n
        self._thin_pass = None if upto >= p.end else p
        return None if self._thin_pass is None and p.freed == 0 else n

    async def _half_of_unsent(self, db: aiosqlite.Connection) -> int | None:
        """The chunk where the oldest half of the readings never sent ends; None: nothing unsent."""
        async with db.execute("SELECT seq, grp, readings FROM chunks ORDER BY seq") as cur:
            rows = [(int(s), int(g), int(n)) for s, g, n in await cur.fetchall()]
        unsent = [(s, n) for s, g, n in rows if not self._depth.maybe_sent(g)]
        total, held = sum(n for _, n in unsent), 0
        for seq, n in unsent:
            held += n
            if held * 2 >= total:
                return seq
        return None

    async def _step_rows(self) -> tuple[int, int]:
        """This buffer's bytes per reading, and the readings per step: as many as ``step_bytes`` holds."""
        async with self._access.locked() as db:
            used = await retention.used_bytes(db)
            held = int(await scalar(db, "SELECT COALESCE(SUM(readings), 0) FROM chunks"))
        per_reading = max(16, used // max(1, held))
        return per_reading, max(10, self._space.plan.step_bytes // per_reading)

    async def _used(self) -> int:
        async with self._access.locked() as db:
            return await retention.used_bytes(db)
