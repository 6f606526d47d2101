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
from tests.edge_agent.units import chunk_rows, first_unit, sendable
from wire.points import Quality, Reading
from wire.telemetry import decode_batch


def readings(n: int, start: int = 0, device: str = "lum-00") -> list[Reading]:
    base = 1_767_225_600_000
    return [Reading(device, f"p{i % 7}", base + start + i, float(start + i)) for i in range(n)]


def rows_in(path: Path) -> int:
    """Readings in the open backlog group of a buffer file (committed, not sendable yet), counted by
    another connection."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return int(
            db.execute(
                "SELECT COALESCE(SUM(c.readings), 0) FROM chunks c JOIN meta m ON m.key = 'open_group' "
                "AND c.grp = CAST(m.value AS INTEGER)"
            ).fetchone()[0]
        )


async def counted(buf: Buffer, counter: Counter, n: int, timeout: float = 5.0) -> None:
    """Wait until the buffer's ``counter`` is ``n`` (a confirmation is applied by the next commit)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (got := (await buf.stats()).counters[counter]) != n:
        assert asyncio.get_running_loop().time() < deadline, f"{counter}: {got}, not {n}"
        await asyncio.sleep(0.01)


async def open_buffer(path: Path, max_bytes: int = 256 << 20) -> Buffer:
    return await Buffer.open(
        path, gateway="gw-1", clock=ManualClock(), commit_interval_s=0, max_bytes=max_bytes
    )


async def test_close_group_and_ack_moves_readings_out(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    buf = await Buffer.open(path, gateway="gw-1", clock=ManualClock(), commit_interval_s=0, batch_readings=10)
    await buf.append(readings(25))
    # The link is down: three chunks (10, 10, 5) in the open backlog group, under its first chunk's key.
    assert [(s, g, n) for s, g, n, _ in chunk_rows(path)] == [(1, 1, 10), (2, 1, 10), (3, 1, 5)]
    assert buf.unsealed == 25
    assert await buf.sealed() == []  # the open group is never sent
    await buf.close_group()
    assert buf.unsealed == 0
    (first,) = await buf.sealed()
    assert (first.key.seq, first.readings) == (1, 25)  # one batch: the chunks merged, in order
    assert [r.value for r in decode_batch(first.payload).readings] == [float(i) for i in range(25)]
    await buf.append(readings(15, start=25))
    await buf.close_group()
    second = (await buf.sealed())[-1]
    assert (second.key.seq, second.readings) == (4, 15)
    assert [b.key.seq for b in await buf.sealed()] == [1, 4]
    assert await buf.ack([1]) == 25
    assert [b.key.seq for b in await buf.sealed()] == [4]
    await counted(buf, Counter.CONFIRMED, 25)  # the next commit deleted it
    assert [(s, g) for s, g, _, _ in chunk_rows(path)] == [(4, 4), (5, 4)]
    stats = await buf.stats()
    assert stats.counters[Counter.COMMITTED] == 40
    assert stats.counters[Counter.SEALED] == 40
    assert (stats.sealed_batches, stats.sealed_readings) == (1, 15)
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
    await buf.append(sent[:2])
    await buf.append(sent[2:])  # two chunks, merged into one batch
    batch = await first_unit(buf)
    assert batch is not None
    got = decode_batch(batch.payload).readings
    assert list(got) == sent
    assert isinstance(got[0].value, bool)
    await buf.close()


async def test_reopen_keeps_epoch_and_resends_identical_batch(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    buf = await open_buffer(path)
    await buf.append(readings(5))
    (sealed,) = await sendable(buf)
    await buf.append(readings(3, start=100))  # the next open group, key 2
    epoch = buf.epoch
    await buf.close()

    again = await open_buffer(path)
    assert again.epoch == epoch
    assert again.unsealed == 3  # the open group goes on where it was
    pending = await again.sealed()
    assert pending == [sealed]  # same key, same bytes: the collector will recognise it
    await again.append(readings(4, start=200))
    # A sequence is never reused: the restart starts past the block the first run reserved.
    assert [(s, g, n) for s, g, n, _ in chunk_rows(path)] == [(1, 1, 5), (2, 2, 3), (Keys.BLOCK + 1, 2, 4)]
    units = await sendable(again)
    assert [(u.key.seq, u.readings) for u in units] == [(1, 5), (2, 7)]
    assert units[0] == sealed
    assert [r.ts_ms for r in decode_batch(units[1].payload).readings] == [
        r.ts_ms for r in [*readings(3, start=100), *readings(4, start=200)]
    ]
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
    batch = await first_unit(buf)
    assert batch is not None
    assert await buf.reject([batch.key.seq], "quarantined") == 4
    assert await buf.sealed() == []
    assert chunk_rows(tmp_path / "b.db") == []
    stats = await buf.stats()
    assert stats.counters[Counter.REJECTED] == 4
    await buf.close()
    with contextlib.closing(sqlite3.connect(tmp_path / "b.db")) as db:
        kept = db.execute("SELECT seq, readings, reason, payload FROM dead_letter").fetchall()
    assert kept == [(batch.key.seq, 4, "quarantined", batch.payload)]  # the bytes sent, for the technician


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


async def test_closes_reads_and_acks_interleaved_with_commits(tmp_path: Path) -> None:
    """One connection, many users: transactions must never interleave (this once stalled the uplink)."""
    buf = await Buffer.open(tmp_path / "b.db", gateway="gw-1", clock=ManualClock(), commit_interval_s=0)
    acked: dict[int, int] = {}

    async def producer(i: int) -> None:
        for k in range(20):
            await buf.append(readings(7, start=(i * 20 + k) * 7, device=f"d{i}"))

    async def consumer() -> None:
        for _ in range(60):
            units = await sendable(buf, 2)  # a transaction (the close), then a read
            await buf.stats()
            for unit in units:
                if unit.key.seq not in acked:  # both consumers may have read it
                    acked[unit.key.seq] = 0
                    acked[unit.key.seq] = await buf.ack([unit.key.seq])
            await asyncio.sleep(0)

    await asyncio.gather(*(producer(i) for i in range(5)), consumer(), consumer())
    assert len(acked) > 1
    await counted(buf, Counter.CONFIRMED, sum(acked.values()))  # deleted by the commits that followed
    stats = await buf.stats()
    assert stats.counters[Counter.COMMITTED] == 5 * 20 * 7
    assert sum(acked.values()) + stats.unsealed + stats.sealed_readings == 5 * 20 * 7
    await buf.close()


async def test_thin_keeps_states_alarms_and_every_other_measurement(tmp_path: Path) -> None:
    from edge_agent.buffer.retention import Retention, WhenFull

    path = tmp_path / "b.db"
    buf = await Buffer.open(
        path,
        gateway="gw-1",
        clock=ManualClock(),
        commit_interval_s=0,
        retention=Retention(when_full=WhenFull.THIN),
        batch_readings=200,  # 50 polls a chunk: thinning goes on from chunk to chunk
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
        assert [n for _, _, n, _ in chunk_rows(path)] == [200] * 8
        # One step of the policy, large enough for the whole oldest half of what was never sent.
        thinned = await buf._room.bounds._thin_step(100_000)
        assert thinned is not None
        assert [n for _, _, n, _ in chunk_rows(path)][4:] == [200] * 4  # the newest half untouched
        stats = await buf.stats()
        assert stats.unsealed == rows_in(path) == 600  # a closed group of 1,000 (thinned), an open one
        assert stats.sealed_readings == 1000 - thinned
        kept = [r for unit in await sendable(buf) for r in decode_batch(unit.payload).readings]
        by_point: dict[str, list[Reading]] = {}
        for r in kept:
            by_point.setdefault(r.point, []).append(r)
        # the oldest half (800 readings = first 200 polls) was thinned; measurements there: every 2nd kept
        assert len([r for r in by_point["power"] if r.ts_ms < t + 200]) == 100
        assert len([r for r in by_point["power"] if r.ts_ms >= t + 200]) == 200
        assert len(by_point["online"]) == 400  # booleans never thinned
        assert {r.value for r in by_point["status"]} == {4, 6}
        assert any(r.ts_ms == t + 100 and r.value == 6 for r in by_point["status"])  # the change survives
        # every 2nd, the first and the change: a chunk's first reading is no change (the last value
        # carries over from the chunk before)
        assert len([r for r in by_point["status"] if r.ts_ms < t + 200]) == 102
        assert all(r.quality is Quality.GOOD or r.point == "energy" for r in kept)
        assert len([r for r in by_point["energy"] if r.quality is Quality.OFFLINE]) == 8  # bad kept
        assert thinned == 400 * 4 - len(kept) == 800 - (100 + 102 + 200 + 104)
        assert (await buf.stats()).counters[Counter.DROPPED_THINNED] == thinned
    finally:
        await buf.close()


async def test_thin_leaves_what_may_have_been_sent_alone(tmp_path: Path) -> None:
    """A unit handed to the uplink may be in the store: its key names its content, which must not change."""
    from edge_agent.buffer.retention import Retention, WhenFull

    path = tmp_path / "b.db"
    buf = await Buffer.open(
        path,
        gateway="gw-1",
        clock=ManualClock(),
        commit_interval_s=0,
        retention=Retention(when_full=WhenFull.THIN),
    )
    try:
        t = 1_767_225_600_000
        await buf.append([Reading("lum-00", "power", t + i, float(i)) for i in range(100)])
        (handed,) = await sendable(buf)  # the uplink has it
        before = chunk_rows(path)
        assert await buf._room.bounds._thin_step(100_000) is None  # nothing that was never sent
        assert chunk_rows(path) == before
        await buf.append([Reading("lum-00", "power", t + 100 + i, float(i)) for i in range(100)])
        assert await buf._room.bounds._thin_step(100_000) == 50  # the chunk never sent
        assert [n for _, _, n, _ in chunk_rows(path)] == [100, 50]
        assert chunk_rows(path)[0] == before[0]
        assert (await buf.units([handed.key.seq])) == [handed]
    finally:
        await buf.close()


async def test_age_bound_drops_old_readings_counted(tmp_path: Path) -> None:
    from edge_agent.buffer.retention import Retention

    clock = ManualClock()
    path = tmp_path / "b.db"
    buf = await Buffer.open(
        path,
        gateway="gw-1",
        clock=clock,
        commit_interval_s=0,
        retention=Retention(max_age_s=3600),
    )
    try:
        now = clock.now_ms()
        old = now - 7200_000
        await buf.append([Reading("d", "p", old + i, float(i)) for i in range(10)])
        await buf.append([Reading("d", "p", now + i, float(i)) for i in range(5)])
        dropped = await buf.enforce_bounds()
        assert dropped[Counter.DROPPED_AGE] == 0  # the writer applied it after the commit
        stats = await buf.stats()
        assert stats.unsealed == 5 == rows_in(path)  # the open group: chunk by chunk
        assert stats.counters[Counter.DROPPED_AGE] == 10
    finally:
        await buf.close()


async def test_age_bound_drops_a_closed_unit_whole_once_all_of_it_is_too_old(tmp_path: Path) -> None:
    """A closed unit may have been sent: its key names all of its readings, so it goes whole or not at
    all — when its newest reading is past the bound."""
    from edge_agent.buffer.retention import Retention

    clock = ManualClock()
    buf = await Buffer.open(
        tmp_path / "b.db",
        gateway="gw-1",
        clock=clock,
        commit_interval_s=0,
        retention=Retention(max_age_s=3600),
        batch_readings=2,
        group_readings=5,  # each append below: three chunks, closed as one unit in its commit
    )
    try:
        now = clock.now_ms()
        old = now - 7200_000
        await buf.append(
            [*(Reading("d", "p", old + i, float(i)) for i in range(4)), Reading("d", "p", now, 1.0)]
        )
        await buf.append([Reading("d", "p", old + 10 + i, float(i)) for i in range(5)])
        await buf.enforce_bounds()
        stats = await buf.stats()
        assert stats.counters[Counter.DROPPED_AGE] == 5  # the second unit, whole
        assert [(u.key.seq, u.readings) for u in await buf.sealed()] == [(1, 5)]  # the first, whole
        assert stats.unsealed == 0
    finally:
        await buf.close()


async def test_units_handed_to_the_uplink_are_dropped_whole_and_counted_apart(tmp_path: Path) -> None:
    buf = await Buffer.open(
        tmp_path / "b.db", gateway="gw-1", clock=ManualClock(), commit_interval_s=0, max_bytes=1024 * 1024
    )
    try:
        total = 0
        for k in range(40):  # handed to the uplink right away: it cannot deliver, the units pile up
            await buf.append(
                [Reading("d", f"p{j % 20}", 1_767_225_600_000 + total + j, "y" * 300) for j in range(100)]
            )
            total += 100
            await sendable(buf)
            assert buf.unsealed == 0, k
        await buf.enforce_bounds()
        stats = await buf.stats()
        assert stats.unsealed == 0
        # Units handed to the uplink may have reached the store, so their drop is counted apart from
        # the certain ones, and they go whole (a key never names two contents).
        unconfirmed = stats.counters[Counter.DROPPED_UNCONFIRMED]
        assert unconfirmed > 0
        assert unconfirmed % 100 == 0
        assert stats.counters[Counter.DROPPED_BUFFER_FULL] == 0
        assert stats.sealed_readings + unconfirmed == total
        left = [(b.key.seq, b.readings) for b in await buf.sealed()]
        assert [n for _, n in left] == [100] * len(left)
        assert [s for s, _ in left] == list(range(41 - len(left), 41))  # the oldest went, the newest stay
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


async def test_a_buffer_at_its_cap_still_hands_everything_it_holds_to_the_uplink(tmp_path: Path) -> None:
    """The uplink must not die of a full buffer: a unit is sent as its chunks were written (merged in
    memory), so closing the group and reading the units need no room."""
    path = tmp_path / "b.db"
    buf = await open_buffer(path, max_bytes=1024 * 1024)
    total = 0
    for _ in range(25):  # to the cap's high-water mark and back: about 3/4 of the cap in use
        await buf.append(
            [Reading("d", f"p{j % 20}", 1_767_225_600_000 + total + j, "z" * 200) for j in range(200)]
        )
        total += 200
    await buf.enforce_bounds()
    await buf.close()  # returns once the writer is done, bounds applied after its last commit too
    buf = await open_buffer(path, max_bytes=1024 * 1024)  # a writer with nothing to do
    try:
        before = await buf.stats()
        dropped = before.counters[Counter.DROPPED_BUFFER_FULL]
        assert 0 < dropped < total // 2  # the policy dropped, and did not overshoot
        assert before.bytes > 0.7 * 1024 * 1024
        held = before.unsealed + before.sealed_readings
        assert held + dropped == total
        units = await sendable(buf, 100_000)
        assert sum(u.readings for u in units) == held
        assert sum(len(decode_batch(u.payload).readings) for u in units) == held
        after = await buf.stats()
        assert (after.unsealed, after.sealed_readings) == (0, held)
        assert after.counters[Counter.SEALED] - before.counters[Counter.SEALED] == before.unsealed
        assert after.counters[Counter.DROPPED_BUFFER_FULL] == dropped  # nothing given up for it
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
