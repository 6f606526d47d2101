"""Send before the card: while the uplink is idle, fresh readings leave before their group commit, under a
key from the reserved block; the commit writes their batch as a chunk, or nothing when the confirmation
came first. A busy uplink commits chunks, each sent as written when the window has room. Against a real
Mosquitto."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from edge_agent.buffer.keys import Keys
from edge_agent.buffer.store import Buffer
from edge_agent.clock import SystemClock
from edge_agent.counters import Counter
from harness.broker import Broker
from tests.edge_agent.test_publisher import FakeCollector, batch_of, make_agent_side, running, wait_for
from tests.edge_agent.units import chunk_rows, first_unit, sendable

SLOW_COMMIT_S = 3.0  # long enough to tell "answered by its confirmation" from "answered by its commit"


def rows(path: Path, table: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return list(db.execute(f"SELECT * FROM {table}"))


async def open_slow(path: Path) -> Buffer:
    return await Buffer.open(path, gateway="gw-1", clock=SystemClock(), commit_interval_s=SLOW_COMMIT_S)


async def test_a_confirmation_before_the_commit_answers_append_and_nothing_is_written(
    broker: Broker, tmp_path: Path
) -> None:
    path = tmp_path / "b.db"
    buf = await open_slow(path)
    collector = FakeCollector(broker)
    link, pub = make_agent_side(broker, buf)
    try:
        async with running(collector.link.run, link.run, pub.run):
            await asyncio.wait_for(
                asyncio.gather(collector.link.subscribed.wait(), link.subscribed.wait()), 5
            )
            t0 = time.monotonic()
            await buf.append(batch_of(10))
            took = time.monotonic() - t0
            assert took < SLOW_COMMIT_S / 2, (
                f"append waited {took:.2f} s: for its commit, not its confirmation"
            )
            assert [len(b.readings) for b in collector.received] == [10]
            assert collector.topics[collector.received[0].key.seq][0].endswith("/telemetry")  # the live topic
            assert (rows(path, "chunks"), rows(path, "payloads")) == ([], [])  # nothing written
            stats = await buf.stats()
            assert stats.counters[Counter.CONFIRMED] == 10
            assert (stats.unsealed, stats.sealed_batches) == (0, 0)
            assert pub.counters[Counter.BATCHES_RESENT] == 0
    finally:
        await buf.close()
    with sqlite3.connect(path) as db:  # the counts reach the file at the latest when it closes
        counted = dict(db.execute("SELECT name, value FROM counters"))
    assert counted[str(Counter.CONFIRMED)] == counted[str(Counter.COMMITTED)] == 10


async def test_an_unconfirmed_fresh_batch_is_written_once_as_sent(broker: Broker, tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    buf = await open_slow(path)
    collector = FakeCollector(broker)
    collector.confirming = False
    link, pub = make_agent_side(broker, buf, confirm_timeout_s=30.0)
    try:
        async with running(collector.link.run, link.run, pub.run):
            await asyncio.wait_for(
                asyncio.gather(collector.link.subscribed.wait(), link.subscribed.wait()), 5
            )
            append = asyncio.create_task(buf.append(batch_of(10)))
            await wait_for(lambda: len(collector.received) == 1)
            assert not append.done()  # sent, neither committed nor confirmed yet
            await asyncio.wait_for(append, SLOW_COMMIT_S * 3)  # answered by its commit
            sent = collector.received[0]
            written = chunk_rows(path)
            assert [(s, g, n) for s, g, n, _ in written] == [(sent.key.seq, sent.key.seq, 10)]  # once
            (batch,) = await buf.sealed()
            assert batch.key == sent.key
            assert written[0][3] == batch.payload  # the bytes that went out
    finally:
        await buf.close()


async def test_a_busy_uplink_commits_a_chunk_sent_as_written_once_there_is_room(
    broker: Broker, tmp_path: Path
) -> None:
    path = tmp_path / "b.db"
    buf = await Buffer.open(path, gateway="gw-1", clock=SystemClock(), commit_interval_s=0.05)
    collector = FakeCollector(broker)
    collector.confirming = False
    link, pub = make_agent_side(broker, buf, in_flight_batches=1, confirm_timeout_s=30.0)
    try:
        async with running(collector.link.run, link.run, pub.run):
            await asyncio.wait_for(
                asyncio.gather(collector.link.subscribed.wait(), link.subscribed.wait()), 5
            )
            first = asyncio.create_task(buf.append(batch_of(10)))
            await wait_for(lambda: len(collector.received) == 1)
            await buf.append(batch_of(5, start=100))  # the window is full: committed as a chunk
            await first
            chunk = [c for c in chunk_rows(path) if c[2] == 5]
            assert len(chunk) == 1
            assert chunk[0][0] == chunk[0][1]  # a unit of its own
            assert len(collector.received) == 1  # nothing more went out while the window was full
            collector.confirming = True
            await collector.confirm_all()  # the window frees: the chunk leaves, as written, live
            await wait_for(lambda: len(collector.received) == 2)
            assert collector.payloads[-1] == chunk[0][3]
            assert collector.topics[chunk[0][0]][0].endswith("/telemetry")
    finally:
        await buf.close()


async def test_a_restart_never_reuses_a_key_sent_before_its_commit(broker: Broker, tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    buf = await open_slow(path)
    collector = FakeCollector(broker)
    link, pub = make_agent_side(broker, buf)
    async with running(collector.link.run, link.run, pub.run):
        await asyncio.wait_for(asyncio.gather(collector.link.subscribed.wait(), link.subscribed.wait()), 5)
        for i in range(3):
            await buf.append(batch_of(4, start=10 * i))
    sent = [b.key.seq for b in collector.received]
    assert len(sent) == 3
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        reserved = int(db.execute("SELECT value FROM meta WHERE key = 'seq_reserved'").fetchone()[0])
    assert max(sent) <= reserved  # every key that went out was covered on disk before it went
    await buf.close()
    again = await open_slow(path)
    try:
        await again.append(batch_of(2, start=500))
        nxt = await first_unit(again)
    finally:
        await again.close()
    assert nxt is not None
    assert nxt.key.seq == reserved + 1 > max(sent)
    assert reserved == Keys.BLOCK


async def test_the_counts_of_a_confirmation_just_before_close_reach_the_file(tmp_path: Path) -> None:
    """The routine counts wait in memory for the next commit: a close must write them, even when it comes
    while the writer is busy with a commit that began before the confirmation."""
    path = tmp_path / "b.db"
    total = 0
    for round_ in range(5):
        buf = await Buffer.open(path, gateway="gw-1", clock=SystemClock(), commit_interval_s=0)
        await buf.append(batch_of(30, start=1000 * round_))
        (batch,) = await sendable(buf)
        more = asyncio.create_task(buf.append(batch_of(7, start=1000 * round_ + 500)))  # being committed
        await asyncio.sleep(0)
        assert await buf.ack([batch.key.seq]) == batch.readings == (30 if round_ == 0 else 37)
        total += batch.readings
        await buf.close()
        await more  # committed into the next open group: sealed and confirmed in the next round
        with sqlite3.connect(path) as db:
            counted = dict(db.execute("SELECT name, value FROM counters"))
        assert counted[str(Counter.CONFIRMED)] == counted[str(Counter.SEALED)] == total


async def test_polls_within_the_linger_share_one_batch(broker: Broker, tmp_path: Path) -> None:
    """An idle uplink sends fresh readings once the first has waited ``batch_linger_s``: three polls
    that come within it leave as one message, not three (the agent's CPU is per message)."""
    buf = await open_slow(tmp_path / "b.db")
    collector = FakeCollector(broker)
    link, pub = make_agent_side(broker, buf, batch_linger_s=0.4)
    try:
        async with running(collector.link.run, link.run, pub.run):
            await asyncio.wait_for(
                asyncio.gather(collector.link.subscribed.wait(), link.subscribed.wait()), 5
            )
            polls = []
            for i in range(3):
                polls.append(asyncio.create_task(buf.append(batch_of(4, start=10 * i))))
                await asyncio.sleep(0.05)
            await asyncio.wait_for(asyncio.gather(*polls), SLOW_COMMIT_S / 2)  # confirmed, not committed
            assert [len(b.readings) for b in collector.received] == [12]
    finally:
        await buf.close()


async def test_what_waits_leaves_just_before_the_commit_instead_of_being_written(
    broker: Broker, tmp_path: Path
) -> None:
    """A linger longer than the commit interval: the commit hands what waits to the uplink first, so
    the readings leave at the commit's tick and the commit writes nothing for them."""
    path = tmp_path / "b.db"
    buf = await Buffer.open(path, gateway="gw-1", clock=SystemClock(), commit_interval_s=0.3)
    collector = FakeCollector(broker)
    link, pub = make_agent_side(broker, buf, batch_linger_s=30.0)
    try:
        async with running(collector.link.run, link.run, pub.run):
            await asyncio.wait_for(
                asyncio.gather(collector.link.subscribed.wait(), link.subscribed.wait()), 5
            )
            await asyncio.wait_for(buf.append(batch_of(6)), 5)
            assert [len(b.readings) for b in collector.received] == [6]
            assert collector.topics[collector.received[0].key.seq][0].endswith("/telemetry")
            await asyncio.sleep(0.8)  # two more commits
            assert chunk_rows(path) == []  # confirmed before any commit wrote it
    finally:
        await buf.close()
