"""The outbox's file: a message put is durable until confirmed, keys are never used twice, and a full
outbox refuses new work with a reason — counted, dropping nothing, across a restart."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge_agent.clock import ManualClock
from edge_agent.counters import Counter
from edge_agent.outbox.store import Outbox, OutboxFull
from wire.events import Event, EventKind, decode_event, encode_event
from wire.outbox import OutboxKey, decode_frame
from wire.topics import TopicKind

GW = "cab-0042"
T0 = 1_767_225_600_000


def event(i: int) -> bytes:
    return encode_event(Event(EventKind.LAMP_FAILURE, f"lum-{i:02d}", T0 + i, {"led_failure": True}))


async def open_outbox(path: Path, bound: int = 500) -> Outbox:
    return await Outbox.open(path, gateway=GW, clock=ManualClock(), max_messages=bound)


@contextlib.asynccontextmanager
async def opened(path: Path, bound: int = 500) -> AsyncIterator[Outbox]:
    box = await open_outbox(path, bound)
    try:
        yield box
    finally:
        await box.close()


async def test_put_then_ack_round_trip(tmp_path: Path) -> None:
    async with opened(tmp_path / "outbox.db") as box:
        k1 = await box.put(TopicKind.EVENT, event(1))
        k2 = await box.put(TopicKind.EVENT, event(2))
        assert (k1, k2) == (OutboxKey(GW, box.epoch, 1), OutboxKey(GW, box.epoch, 2))
        pending = await box.pending()
        assert [m.key for m in pending] == [k1, k2]
        frame = decode_frame(pending[0].payload)
        assert frame.key == k1
        assert decode_event(frame.body).device == "lum-01"
        assert await box.ack([1]) == 1
        assert await box.ack([1]) == 0  # confirmed twice: nothing more leaves
        assert [m.key for m in await box.pending()] == [k2]
        stats = await box.stats()
    assert stats.depth == 1
    assert stats.counters[Counter.OUTBOX_PUT] == 2
    assert stats.counters[Counter.OUTBOX_CONFIRMED] == 1


async def test_a_message_not_confirmed_is_pending_after_reopen_with_its_key_and_bytes(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    async with opened(path) as box:
        for i in range(3):
            await box.put(TopicKind.EVENT, event(i))
        await box.ack([1, 2])  # seq 3 waits
        before = await box.pending()
        epoch = box.epoch
    async with opened(path) as again:
        assert again.epoch == epoch
        assert again.depth == 1
        assert await again.pending() == before
        fresh = await again.put(TopicKind.EVENT, event(9))
    assert fresh == OutboxKey(GW, epoch, 4)  # never a seq used before the restart


async def test_seqs_are_not_reused_after_everything_was_confirmed(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    async with opened(path) as box:
        await box.put(TopicKind.EVENT, event(1))
        await box.put(TopicKind.EVENT, event(2))
        await box.ack([1, 2])  # the outbox is empty: MAX(seq) + 1 would give 1 again
    async with opened(path) as again:
        assert (await again.put(TopicKind.EVENT, event(3))).seq == 3


async def test_a_full_outbox_refuses_with_a_reason_counts_it_and_drops_nothing_across_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.db"
    async with opened(path, bound=5) as box:
        keys = [await box.put(TopicKind.EVENT, event(i)) for i in range(5)]
        assert box.room == 0
        with pytest.raises(OutboxFull) as refused:
            await box.put(TopicKind.EVENT, event(99))
        assert refused.value.reason == "outbox full: 5 results and events wait for the collector (bound 5)"
        assert box.refusal() == refused.value.reason  # new work (a command) is refused before it starts
        assert [m.key for m in await box.pending()] == keys  # nothing dropped
    async with opened(path, bound=5) as again:  # still full after a restart
        assert again.depth == 5
        assert [m.key for m in await again.pending()] == keys
        with pytest.raises(OutboxFull, match="outbox full: 5 results"):
            await again.put(TopicKind.EVENT, event(100))
        stats = await again.stats()
        assert stats.counters[Counter.OUTBOX_REFUSED] == 3  # counted, and the count survived the restart
        assert stats.refusal is not None
        await again.ack([keys[0].seq, keys[1].seq])  # confirmations free room: accepted again
        assert again.refusal() is None
        k = await again.put(TopicKind.EVENT, event(101))
        assert k.seq == 6
        assert again.room == 1


async def test_a_result_is_never_refused_it_is_stored_past_the_bound(tmp_path: Path) -> None:
    """A full outbox refuses new work, never the result of work already started (nor the signed
    ``refused`` result that tells the centre why its command was refused)."""
    path = tmp_path / "outbox.db"
    async with opened(path, bound=2) as box:
        await box.put(TopicKind.EVENT, event(1))
        await box.put_result(b"accepted")
        assert box.refusal() is not None
        await box.put_result(b"done")  # past the bound: stored, not dropped
        await box.put(TopicKind.COMMAND_RESULT, b"refused")
        assert box.depth == 4
        stats = await box.stats()
    assert stats.counters[Counter.OUTBOX_REFUSED] == 1  # the one refusal() that said no
    assert stats.counters[Counter.OUTBOX_PUT] == 4
    async with opened(path, bound=2) as again:
        assert [m.topic_kind for m in await again.pending()] == [TopicKind.EVENT] + [
            TopicKind.COMMAND_RESULT
        ] * 3
        assert (await again.stats()).counters[Counter.OUTBOX_REFUSED] == 1  # the count was committed


async def test_put_refuses_a_topic_kind_that_is_not_an_outbox_one(tmp_path: Path) -> None:
    async with opened(tmp_path / "outbox.db") as box:
        with pytest.raises(ValueError, match="'telemetry' is not an outbox topic kind"):
            await box.put(TopicKind.TELEMETRY, b"x")


async def test_put_commits_before_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    async with opened(path) as box:
        await box.put(TopicKind.EVENT, event(1))
        with contextlib.closing(sqlite3.connect(path)) as db:  # another reader sees it committed
            assert db.execute("SELECT seq FROM messages").fetchall() == [(1,)]
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_rejected_messages_are_kept_in_dead_letter_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    async with opened(path) as box:
        await box.put(TopicKind.EVENT, event(1))
        assert await box.reject([1], "quarantined by the collector") == 1
        stats = await box.stats()
    assert (stats.depth, stats.dead_letters, stats.counters[Counter.OUTBOX_REJECTED]) == (0, 1, 1)
