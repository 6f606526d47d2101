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
from dataclasses import dataclass

import aiosqlite

from edge_agent.buffer import retention
from edge_agent.buffer.access import Access
from edge_agent.buffer.database import count, scalar
from edge_agent.buffer.disk import DiskSpace
from edge_agent.buffer.retention import Retention, WhenFull
from edge_agent.clock import Clock
from edge_agent.counters import Counter

log = logging.getLogger(__name__)

MAX_STEPS = 50  # steps of the when_full policy per look at the bounds (the next commit goes on)


@dataclass(slots=True)
class Depth:
    """Readings committed and not yet sealed: kept in memory (counted at open), shared by the buffer's
    parts, changed only after the transaction that changes them committed."""

    unsealed: int = 0


@dataclass(slots=True)
class _ThinPass:
    """Thinning the oldest half, one window of ids per step: ``(after, end]`` is still to do."""

    after: int
    end: int
    freed: int = 0


class Bounds:
    def __init__(
        self,
        *,
        access: Access,
        policy: Retention,
        space: DiskSpace,
        clock: Clock,
        depth: Depth,
        look_again: Callable[[], Awaitable[None]],
    ) -> None:
        self._access = access
        self._look_again = look_again  # at the disk: its cap may be stale (space came back)
        self.policy = policy
        self._space = space
        self._clock = clock
        self._depth = depth
        self._thin_pass: _ThinPass | None = None

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
            rows = await self._step_rows()
            if policy.max_age_s is not None:
                cutoff = self._clock.now_ms() - int(policy.max_age_s * 1000)
                while True:
                    n = await self._step(
                        Counter.DROPPED_AGE, lambda db: retention.drop_older_than(db, cutoff, rows)
                    )
                    self._depth.unsealed -= n
                    dropped[Counter.DROPPED_AGE] += n
                    if n < rows:
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
                    excess = max(0, int(used - policy.low_water * cap))
                    if not await self._give_up_some(dropped, rows, excess):
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

    async def _give_up_some(self, dropped: dict[Counter, int], rows: int, excess: int) -> bool:
        """One step of the ``when_full`` policy, at most ``rows`` readings (a tenth of the unsent ones:
        the policy should not overshoot its low-water mark) or ``excess`` bytes of sealed batches (at
        least one); False when there was nothing left to give up."""
        if self._depth.unsealed > 0 and self.policy.when_full is WhenFull.THIN:
            n = await self._thin_step(rows)
            if n is not None:
                dropped[Counter.DROPPED_THINNED] += n
                return True
        # Nothing (left) to thin, or dropping: the oldest data goes, sealed or not. A sealed batch was
        # (or was about to be) sent: it may have reached the store, its confirmation lost with the
        # link. Counted apart, so the centre knows which drops are certain and which are "at most".
        async with self._access.transaction() as db:
            sealed = self._depth.unsealed == 0 or await retention.oldest_is_sealed(db)
            if sealed:
                n = await retention.drop_oldest_batches(db, min(self._space.plan.step_bytes, excess))
                counter = Counter.DROPPED_UNCONFIRMED
            else:
                n = await retention.drop_oldest(db, min(rows, max(self._depth.unsealed // 10, 100)))
                counter = Counter.DROPPED_BUFFER_FULL
            await count(db, counter, n)
        if not sealed:
            self._depth.unsealed -= n
        dropped[counter] += n
        return n > 0

    async def _thin_step(self, rows: int) -> int | None:
        """Thin the next window (``rows`` ids) of the oldest half; None when a whole pass over the half
        freed nothing: nothing is left to thin."""
        async with self._access.transaction() as db:
            p = self._thin_pass
            if p is None:
                end = await retention.nth_id(db, -1, max(1, self._depth.unsealed // 2))
                if end is None:
                    return None
                p = _ThinPass(after=-1, end=end)
            upto = min(p.end, await retention.nth_id(db, p.after, rows) or p.end)
            n = await retention.thin(db, p.after, upto, self.policy.thin_keep)
            await count(db, Counter.DROPPED_THINNED, n)
        self._depth.unsealed -= n
        p.after, p.freed = upto, p.freed + n
        self._thin_pass = None if upto >= p.end else p
        return None if self._thin_pass is None and p.freed == 0 else n

    async def _step(self, counter: Counter, step: Callable[[aiosqlite.Connection], Awaitable[int]]) -> int:
        async with self._access.transaction() as db:
            n = await step(db)
            await count(db, counter, n)
        return n

    async def _step_rows(self) -> int:
        """Readings per step: as many as ``step_bytes`` holds at this buffer's bytes per reading."""
        async with self._access.locked() as db:
            used = await retention.used_bytes(db)
            sealed = int(await scalar(db, "SELECT COALESCE(SUM(readings), 0) FROM batches"))
        per_reading = max(16, used // max(1, self._depth.unsealed + sealed))
        return max(10, self._space.plan.step_bytes // per_reading)

    async def _used(self) -> int:
        async with self._access.locked() as db:
            return await retention.used_bytes(db)
