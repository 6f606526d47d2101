"""Fresh batches: readings the uplink took from the writer's queue before their group commit, sent at once
under a key from the reserved block (:mod:`.keys`), and not written yet.

The writer's next group commit writes each such batch as a row of ``batches`` (the same key, the same
bytes) instead of writing its readings as rows — a reading on the live path is written once, inside its
batch — and only then are its ``append`` calls answered, as for any committed reading. A batch sent
less than half a commit interval before a commit waits for the next one. A confirmation that arrives
first retires the batch here: it is never written, and its ``append`` calls are answered at once (the
reading is safe: the centre stored it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edge_agent.buffer.chunks import SealedBatch
from wire.points import Reading
from wire.telemetry import BatchKey, encode_batch

Waiting = list[tuple[int, asyncio.Future[None]]]  # (readings, the append's future)


@dataclass(slots=True)
class LiveBatch:
    batch: SealedBatch
    created_ms: int
    newest_ts: int
    waiting: Waiting
    sent_at: float  # the event loop's clock

    @classmethod
    def of(
        cls, key: BatchKey, taken: Sequence[tuple[Sequence[Reading], asyncio.Future[None]]], now_ms: int
    ) -> LiveBatch:
        """The batch of ``append`` calls taken from the writer's queue, sent now under ``key``."""
        readings = [r for rs, _ in taken for r in rs]
        stamps = [r.ts_ms for r in readings]
        batch = SealedBatch(key, len(readings), min(stamps), encode_batch(key, readings))
        waiting = [(len(rs), fut) for rs, fut in taken]
        return cls(batch, now_ms, max(stamps), waiting, asyncio.get_running_loop().time())

    def answer(self, exc: BaseException | None = None) -> None:
        for _, fut in self.waiting:
            if not fut.done():
                if exc is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(exc)


class Unwritten:
    """Sent, not yet written: ``sent`` waits for the next commit, ``writing`` is in the one under way."""

    def __init__(self) -> None:
        self.sent: dict[int, LiveBatch] = {}
        self.writing: dict[int, LiveBatch] = {}

    def add(self, live: LiveBatch) -> None:
        self.sent[live.batch.key.seq] = live

    def confirm(self, seqs: Iterable[int]) -> list[LiveBatch]:
        """Retire the batches not yet in a commit (a commit under way writes its own; the confirmation is
        then applied to the file after it)."""
        return [live for s in seqs if (live := self.sent.pop(s, None)) is not None]

    def start_writing(self, sent_before: float | None = None) -> list[LiveBatch]:
        """The batches the commit about to start writes: those sent before ``sent_before`` (all when
        None); the younger ones wait for the next commit, their confirmation may come first."""
        cut = float("inf") if sent_before is None else sent_before
        self.writing = {s: b for s, b in self.sent.items() if b.sent_at <= cut}
        self.sent = {s: b for s, b in self.sent.items() if b.sent_at > cut}
        return list(self.writing.values())

    def done_writing(self, written: bool) -> None:
        """``written`` False (no room): they wait for the next commit, still sent."""
        if not written:
            self.sent = {**self.writing, **self.sent}
        self.writing = {}

    def batches(self) -> list[SealedBatch]:
        return [live.batch for live in (*self.writing.values(), *self.sent.values())]
