"""The counts of the buffer's routine transactions, kept in memory and written with the next group commit.

Seals and confirmations happen many times a second; counting each in its own transaction rewrote the
``counters`` page every time (14 % of the WAL frames, BENCHMARKS.md). They are added up here instead
(``readings_committed_total``, ``readings_sealed_total``, ``readings_confirmed_total``) and written by
the writer once per group commit — or, when nothing else is committed, at most every
:data:`EVERY_S` seconds. The status views add what is not written yet. A kill -9 loses at most those
seconds of these three counts (never a drop count: drops, rejections and refusals are still counted in
the transaction that makes them).
"""

from __future__ import annotations

import aiosqlite

from edge_agent.buffer.database import count
from edge_agent.counters import Counter

EVERY_S = 5.0


class Tally:
    def __init__(self) -> None:
        self.pending: dict[Counter, int] = {}

    def add(self, name: Counter, n: int) -> None:
        if n:
            self.pending[name] = self.pending.get(name, 0) + n

    def __bool__(self) -> bool:
        return bool(self.pending)

    async def write(self, db: aiosqlite.Connection) -> dict[Counter, int]:
        """In the caller's transaction; give the result to :meth:`written` once it committed."""
        taken = dict(self.pending)
        for name, n in taken.items():
            await count(db, name, n)
        return taken

    def written(self, taken: dict[Counter, int]) -> None:
        for name, n in taken.items():
            left = self.pending.get(name, 0) - n
            if left:
                self.pending[name] = left
            else:
                self.pending.pop(name, None)
