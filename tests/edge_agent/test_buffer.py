from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from edge_agent.buffer.keys import Keys
from edge_agent.buffer.store import Buffer
from edge_agent.clock import ManualClock
from edge_agent.counters import Counter
from wire.points import Quality, Reading
from wire.telemetry import decode_batch


def readings(n: int, start: int = 0, device: str = "lum-00") -> list[Reading]:
    base = 1_767_225_600_000
    return [Reading(device, f"p{i % 7}", base + start + i, float(start + i)) for i in range(n)]


def rows_in(path: Path) -> int:
    """Unsent readings in a buffer file, counted by another connection."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return int(db.execute("SELECT COUNT(*) FROM readings").fetchone()[0])


async def open_buffer(path: Path, max_bytes: int = 256 << 20) -> Buffer:
    return await Buffer.open(
        path, gateway="gw-1", clock=ManualClock(), commit_interval_s=0, max_bytes=max_bytes
    )


async def test_seal_and_ack_moves_readings_out(tmp_path: Path) -> None:
    buf = await open_buffer(tmp_path / "b.db")
    await buf.append(readings(25))
    batch = await buf.seal(10)
    assert batch is not None
    assert batch.key.seq == 1
    assert batch.readings == 10
    decoded = decode_batch(batch.payload)
    assert [r.value for r in decoded.readings] == [float(i) for i in range(10)]
    assert buf.unsealed == 15
    second = await buf.seal(100)
    assert second is not None
    assert second.key.seq == 2
    assert second.readings == 15
    assert await buf.seal(100) is None
    assert [b.key.seq for b in await buf.sealed()] == [1, 2]
    assert await buf.ack([1]) == 10
    assert [b.key.seq for b in await buf.sealed()] == [2]
    stats = await buf.stats()
    assert stats.counters[Counter.COMMITTED] == 25
    assert stats.counters[Counter.CONFIRMED] == 10
    await buf.close()


async def test_types_and_quality_survive_the_buffer(tmp_path: Path) -> None:
    buf = await open_buffer(tmp_path / "b.db")
    sent = [
        Reading("d", "flag", 1_767_225_600_000, True),
        Reading("d", "count", 1_767_225_600_001, 7),
        Reading("d", "temp", 1_767_225_600_002, 21.5),
        Reading("d", "state", 1_767_225_600_003, "up"),
        Reading("d", "power", 1_767_225_600_004, None, Quality.OFFLINE, "timeout after 1.0 s"),
    ]
    await buf.append(sent)
    batch = await buf.seal(10)
    assert batch is not None
    got = decode_batch(batch.payload).readings
    assert list(got) == sent
    assert isinstance(got[0].value, bool)
    await buf.close()


async def test_reopen_keeps_epoch_and_resends_identical_batch(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    buf = await open_buffer(path)
    await buf.append(readings(5))
    sealed = await buf.seal(100)
    await buf.append(readings(3, start=100))
    epoch = buf.epoch
    await buf.close()

    again = await open_buffer(path)
    assert again.epoch == epoch
    assert again.unsealed == 3
    pending = await again.sealed()
    assert pending == [sealed]  # same key, same bytes: the collector will recognise it
    nxt = await again.seal(100)
    assert nxt is not None
    # A sequence is never reused: the restart starts past the block the first run reserved.
    assert nxt.key.seq == Keys.BLOCK + 1
    await again.close()


async def test_new_buffer_file_gets_new_epoch(tmp_path: Path) -> None:
    a = await open_buffer(tmp_path / "a.db")
    b = await open_buffer(tmp_path / "b.db")
    assert a.epoch != b.epoch
    await a.close()
    await b.close()


async def test_reject_moves_batch_to_dead_letter_and_counts(tmp_path: Path) -> None:
    buf = await open_buffer(tmp_path / "b.db")
    await buf.append(readings(4))
    batch = await buf.seal(10)
    assert batch is not None
    assert await buf.reject([batch.key.seq], "quarantined") == 4
    assert await buf.sealed() == []
    stats = await buf.stats()
    assert stats.counters[Counter.REJECTED] == 4
    await buf.close()


async def test_disk_cap_drops_oldest_counted_not_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    buf = await open_buffer(tmp_path / "b.db", max_bytes=1024 * 1024)
    total = 0
    for _ in range(60):
        chunk = [
            Reading("lum-00", f"point_{j % 50}", 1_767_225_600_000 + total + j, "x" * 200) for j in range(200)
        ]
        await buf.append(chunk)
        total += len(chunk)
    stats = await buf.stats()
    dropped = stats.counters[Counter.DROPPED_BUFFER_FULL]
    assert dropped > 0
    assert stats.unsealed == rows_in(tmp_path / "b.db")  # the depth it keeps is the file's
    assert stats.unsealed + stats.sealed_readings + dropped == total == stats.counters[Counter.COMMITTED]
    assert stats.bytes <= 1024 * 1024
    assert "buffer bounds" in caplog.text
    await buf.close()


async def test_concurrent_appends_share_commits(tmp_path: Path) -> None:
    buf = await Buffer.open(tmp_path / "b.db", gateway="gw-1", clock=ManualClock(), commit_interval_s=0.05)
    commits = 0

    def committed() -> None:  # the buffer calls its listeners once after every commit
        nonlocal commits
        commits += 1

    buf.listeners.append(committed)
    await asyncio.gather(*(buf.append(readings(10, start=i * 10, device=f"d{i}")) for i in range(50)))
    stats = await buf.stats()
    assert stats.unsealed == 500
    assert 1 <= commits < 5, f"50 concurrent appends took {commits} commits"
    await buf.close()


async def test_seals_and_acks_interleaved_with_commits(tmp_path: Path) -> None:
    """One connection, many users: transactions must never interleave (this once stalled the uplink)."""
    buf = await Buffer.open(tmp_path / "b.db", gateway="gw-1", clock=ManualClock(), commit_interval_s=0)
    acked: list[int] = []

    async def producer(i: int) -> None:
        for k in range(20):
            await buf.append(readings(7, start=(i * 20 + k) * 7, device=f"d{i}"))

    async def consumer() -> None:
        for _ in range(60):
            batch = await buf.seal(13)
            await buf.stats()
            if batch is not None:
                acked.append(await buf.ack([batch.key.seq]))
            await asyncio.sleep(0)

    await asyncio.gather(*(producer(i) for i in range(5)), consumer(), consumer())
    stats = await buf.stats()
    assert stats.counters[Counter.COMMITTED] == 5 * 20 * 7
    assert sum(acked) + stats.unsealed + stats.sealed_readings == 5 * 20 * 7
    await buf.close()


async def test_thin_keeps_states_alarms_and_every_other_measurement(tmp_path: Path) -> None:
    from edge_agent.buffer import retention
    from edge_agent.buffer.retention import Retention, WhenFull

    buf = await Buffer.open(
        tmp_path / "b.db",
        gateway="gw-1",
        clock=ManualClock(),
        commit_interval_s=0,
        retention=Retention(when_full=WhenFull.THIN),
    )
    try:
        t = 1_767_225_600_000
        rows = []
        for i in range(400):
            rows += [
                Reading("lum-00", "power", t + i, 40.0 + i / 10),  # a plain measurement: thinned
                Reading("lum-00", "status", t + i, 4 if i < 100 else 6),  # one state change at i=100
                Reading("lum-00", "online", t + i, True),
                Reading("lum-00", "energy", t + i, None, Quality.OFFLINE, "timeout")
                if i % 50 == 0
                else Reading("lum-00", "energy", t + i, 1000),
            ]
        await buf.append(rows)
        async with buf.access.transaction() as db:  # one step over the whole oldest half
            half = await retention.nth_id(db, -1, buf.unsealed // 2)
            assert half == 800
            thinned = await retention.thin(db, -1, half, 2)
        batch = await buf.seal(100_000)
        assert batch is not None
        kept = decode_batch(batch.payload).readings
        by_point: dict[str, list[Reading]] = {}
        for r in kept:
            by_point.setdefault(r.point, []).append(r)
        # the oldest half (800 rows = first 200 polls) was thinned; measurements there: every 2nd kept
        assert len([r for r in by_point["power"] if r.ts_ms < t + 200]) == 100
        assert len([r for r in by_point["power"] if r.ts_ms >= t + 200]) == 200
        assert len(by_point["online"]) == 400  # booleans never thinned
        assert {r.value for r in by_point["status"]} == {4, 6}
        assert any(r.ts_ms == t + 100 and r.value == 6 for r in by_point["status"])  # the change survives
        assert all(r.quality is Quality.GOOD or r.point == "energy" for r in kept)
        assert len([r for r in by_point["energy"] if r.quality is Quality.OFFLINE]) == 8  # bad kept
        assert thinned == 400 * 4 - len(kept)
    finally:
        await buf.close()


async def test_age_bound_drops_old_readings_counted(tmp_path: Path) -> None:
    from edge_agent.buffer.retention import Retention

    clock = ManualClock()
    buf = await Buffer.open(
        tmp_path / "b.db",
        gateway="gw-1",
        clock=clock,
        commit_interval_s=0,
        retention=Retention(max_age_s=3600),
    )
    try:
        now = clock.now_ms()
        await buf.append([Reading("d", "p", now - 7200_000 + i, float(i)) for i in range(10)])
        await buf.append([Reading("d", "p", now + i, float(i)) for i in range(5)])
        dropped = await buf.enforce_bounds()
        assert dropped[Counter.DROPPED_AGE] == 0  # the writer applied it after the commit
        stats = await buf.stats()
        assert stats.unsealed == 5 == rows_in(tmp_path / "b.db")
        assert stats.counters[Counter.DROPPED_AGE] == 10
    finally:
        await buf.close()


async def test_sealed_batches_go_last_when_nothing_unsent_is_left(tmp_path: Path) -> None:
    buf = await Buffer.open(
        tmp_path / "b.db", gateway="gw-1", clock=ManualClock(), commit_interval_s=0, max_bytes=1024 * 1024
    )
    try:
        total = 0
        for k in range(40):  # sealed right away: the uplink cannot deliver, the batches pile up
            await buf.append(
                [Reading("d", f"p{j % 20}", 1_767_225_600_000 + total + j, "y" * 300) for j in range(100)]
            )
            total += 100
            await buf.seal(100)
            assert buf.unsealed == 0, k
        await buf.enforce_bounds()
        stats = await buf.stats()
        assert stats.unsealed == 0
        # Sealed batches had been handed to the uplink: they may have reached the store, so their
        # drop is counted apart from the certain ones.
        assert stats.counters[Counter.DROPPED_UNCONFIRMED] > 0
        assert stats.counters[Counter.DROPPED_BUFFER_FULL] == 0
        assert stats.sealed_readings + stats.counters[Counter.DROPPED_UNCONFIRMED] == total
        assert [b.key.seq for b in await buf.sealed()][-1] == 40  # the newest batches stay
    finally:
        await buf.close()


async def test_a_roomy_disk_keeps_the_configured_cap_and_a_reserve(tmp_path: Path) -> None:
    buf = await open_buffer(tmp_path / "b.db", max_bytes=8 << 20)
    try:
        await buf.append(readings(10))
        stats = await buf.stats()
        assert stats.cap_bytes == 8 << 20  # the disk has room for it all
        assert stats.disk_full is False
        assert stats.disk_free_bytes is not None
        assert stats.disk_free_bytes > 0
        assert stats.counters[Counter.DROPPED_DISK_FULL] == 0
        assert (tmp_path / "b.db-reserve").stat().st_size > 0  # held for a disk that fills anyway
    finally:
        await buf.close()


async def test_a_seal_without_room_keeps_its_readings_and_does_not_raise(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The uplink must not die of a full buffer: a seal with no room for its batch seals nothing."""
    buf = await open_buffer(tmp_path / "b.db", max_bytes=1024 * 1024)
    total = 0
    for _ in range(20):  # to the cap's high-water mark and back: about 3/4 of the cap in use
        await buf.append(
            [Reading("d", f"p{j % 20}", 1_767_225_600_000 + total + j, "z" * 200) for j in range(200)]
        )
        total += 200
    await buf.enforce_bounds()
    await buf.close()  # returns once the writer is done, bounds applied after its last commit too
    buf = await open_buffer(tmp_path / "b.db", max_bytes=1024 * 1024)  # a writer with nothing to do
    try:
        before = await buf.stats()
        assert before.counters[Counter.DROPPED_BUFFER_FULL] < total // 2  # the policy did not overshoot
        assert await buf.seal(100_000) is None  # a batch of it all needs more pages than are left
        assert "no room to record seal" in caplog.text
        after = await buf.stats()
        assert after.unsealed == before.unsealed == buf.unsealed
        assert after.counters[Counter.SEALED] == 0
        batch = await buf.seal(100)  # a smaller one fits
        assert batch is not None
        assert batch.readings == 100
    finally:
        await buf.close()


async def test_close_commits_the_readings_of_a_cancelled_append(tmp_path: Path) -> None:
    """A clean stop cancels the pollers while they wait for a group commit: their readings were handed
    over and must still be committed, not dropped with the cancellation."""
    path = tmp_path / "b.db"
    buf = await Buffer.open(path, gateway="gw-1", clock=ManualClock(), commit_interval_s=5, max_bytes=8 << 20)
    await buf.append(readings(3))  # the writer now waits out its commit interval
    poller = asyncio.create_task(buf.append(readings(4, start=100)))
    await asyncio.sleep(0.05)
    assert not poller.done()  # waiting for the next group commit
    poller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await poller
    await buf.close()
    again = await open_buffer(path)
    assert again.unsealed == 7
    assert (await again.stats()).counters[Counter.COMMITTED] == 7
    await again.close()


async def test_a_value_on_a_reading_that_is_not_good_is_refused_at_append(tmp_path: Path) -> None:
    buf = await open_buffer(tmp_path / "b.db")
    try:
        bad = Reading("lum-00", "active_power", 1_767_225_600_000, 41.5, Quality.OFFLINE, "no answer")
        with pytest.raises(ValueError, match=r"^lum-00.active_power: value must be nil when quality is 2"):
            await buf.append([*readings(2), bad])
        assert buf.unsealed == 0  # none of them: the producer has a bug, not the buffer
    finally:
        await buf.close()
