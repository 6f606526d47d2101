"""Buffer schema 3: what a group commit writes is what is sent, once; a backlog travels in groups of at
least 1,000 readings, the same bytes at every send; a confirmation writes nothing by itself."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge_agent.buffer.store import Buffer
from edge_agent.clock import ManualClock
from edge_agent.counters import Counter
from tests.edge_agent.units import chunk_rows, sendable
from wire.points import Reading
from wire.telemetry import decode_batch

PER_COMMIT = 277  # a cabinet's 0.5 s of readings (555 a second)


def commit_of(i: int) -> list[Reading]:
    base = 1_767_225_600_000 + i * 500
    return [Reading(f"lum-{j % 50:02}", f"p{j // 50}", base, float(i * 1000 + j)) for j in range(PER_COMMIT)]


async def open_buffer(path: Path) -> Buffer:
    return await Buffer.open(path, gateway="gw-1", clock=ManualClock(), commit_interval_s=0)


def data_version(db: sqlite3.Connection) -> int:
    """Changes whenever another connection commits to the file (SQLite's ``PRAGMA data_version``)."""
    return int(db.execute("PRAGMA data_version").fetchone()[0])


async def test_an_outage_is_written_once_and_travels_in_groups_of_at_least_1000(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    buf = await open_buffer(path)
    sent: list[float] = []
    try:
        for i in range(20):  # the link is down: every commit's chunk joins the open group
            batch = commit_of(i)
            await buf.append(batch)
            sent += [float(r.value) for r in batch if isinstance(r.value, float)]
        chunks = chunk_rows(path)
        # Written once: a chunk per commit, each reading in exactly one chunk, nothing else holds one.
        assert [n for _, _, n, _ in chunks] == [PER_COMMIT] * 20
        assert sum(len(decode_batch(p).readings) for *_, p in chunks) == len(sent)
        assert buf.unsealed == (20 * PER_COMMIT) % (4 * PER_COMMIT)  # the open group: 4 chunks close one
        units = await sendable(buf)
    finally:
        await buf.close()
    sizes = [u.readings for u in units]
    assert all(n >= 1000 for n in sizes[:-1]), sizes
    assert sum(sizes) == len(sent)
    got = [
        float(r.value) for u in units for r in decode_batch(u.payload).readings if isinstance(r.value, float)
    ]
    assert got == sent  # every reading once, in order
    for u in units:  # a group's key is its first chunk's, and its batch says so
        assert decode_batch(u.payload).key == u.key
        assert u.key.seq in {s for s, _, _, _ in chunks}


async def test_a_group_is_the_same_bytes_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    buf = await open_buffer(path)
    for i in range(8):
        await buf.append(commit_of(i))
    before = await buf.sealed()  # closed groups, handed to an uplink that never heard back
    await buf.close()
    again = await open_buffer(path)
    try:
        after = await again.sealed()
    finally:
        await again.close()
    assert before
    assert [(u.key, u.payload) for u in after] == [(u.key, u.payload) for u in before]


async def test_a_confirmation_writes_nothing_the_next_commit_deletes_the_unit(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    buf = await open_buffer(path)
    try:
        for i in range(4):
            await buf.append(commit_of(i))
        (unit,) = await buf.sealed()
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as watcher:
            version = data_version(watcher)
            assert await buf.ack([unit.key.seq]) == unit.readings
            assert data_version(watcher) == version  # the confirmation itself committed nothing
            await buf.append(commit_of(8))
            assert data_version(watcher) != version  # (the watcher does see a commit)
        assert await buf.sealed() == []  # and it is not handed out again
        # The commit after the confirmation deleted the unit along with writing its own chunk.
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            left = {g for (g,) in db.execute("SELECT grp FROM chunks")}
        assert unit.key.seq not in left
        assert (await buf.stats()).counters[Counter.CONFIRMED] == unit.readings
    finally:
        await buf.close()


async def test_a_connected_commit_closes_the_open_group_first(tmp_path: Path) -> None:
    """Back online: no chunk joins the group that may now leave; each new chunk is a unit of its own."""
    path = tmp_path / "b.db"
    buf = await open_buffer(path)
    try:
        await buf.append(commit_of(0))  # offline: the open group
        group = buf.unsealed
        buf.online = True
        await buf.append(commit_of(1))
        assert buf.unsealed == 0
        units = await buf.sealed()
    finally:
        await buf.close()
    assert [u.readings for u in units] == [group, PER_COMMIT]
    assert units[1].key.seq > units[0].key.seq
