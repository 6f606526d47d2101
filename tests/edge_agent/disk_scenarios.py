"""Disk-full scenarios for ``test_buffer_disk.py``, run in a child process on a small, really full tmpfs.

The test mounts a tmpfs on DIR and starts ``python -m tests.edge_agent.disk_scenarios NAME DIR``: as
root directly (it unmounts DIR after), otherwise inside ``unshare --user --map-root-user --mount`` (no
root needed, and the mount dies with the namespace). Each scenario prints one JSON object, its
observations, as the last line on stdout; the test asserts on it.

The readings are polling-style: several tasks append concurrently (one is a real :class:`DevicePoller`
on a fake driver), an uplink-like task takes the units the buffer closes and acknowledges some of them,
and everything that goes in is tallied outside the buffer so that the buffer's own counters can be
checked against it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drivers.base import PointValue, Value
from edge_agent.buffer.retention import Retention, WhenFull
from edge_agent.buffer.store import Buffer, BufferFull
from edge_agent.clock import Clock, SystemClock
from edge_agent.counters import Counter
from edge_agent.health.reporter import HealthReporter
from edge_agent.poll.poller import DevicePoller
from tests.edge_agent.stand_ins import Uplink
from wire.points import Reading

BASE_MS = 1_767_225_600_000
POINTS = [f"p{i}" for i in range(20)]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelname, record.getMessage()))

    def count(self, level: str, text: str) -> int:
        return sum(1 for lv, msg in self.records if lv == level and text in msg)


@dataclass
class Tally:
    """What went into the buffer, counted outside it."""

    ok: int = 0  # readings whose append returned: committed
    refused: int = 0  # readings whose append raised BufferFull: to be counted as dropped_disk_full
    appends_ok: int = 0
    appends_refused: int = 0
    errors: list[str] = field(default_factory=list)  # anything else: must stay empty
    confirmed: int = 0  # readings acknowledged by the uplink-like task
    next_ts: int = 0
    backlog: int | None = None  # the newest key when the uplink-like task connected: up to it, backlog
    taken: int = 0  # the newest key it took after that
    backlog_taken: int = 0  # the newest key of the backlog it took

    def readings(self, n: int, *, numbers: bool) -> list[Reading]:
        out = []
        for _ in range(n):
            i = self.next_ts
            self.next_ts += 1
            value: float | str = float(i) + 0.5 if numbers else f"{i:08d}" + "x" * 200
            out.append(Reading("lum-00", POINTS[i % len(POINTS)], BASE_MS + i, value))
        return out

    async def append(self, buf: Buffer, n: int, *, numbers: bool = False) -> bool:
        readings = self.readings(n, numbers=numbers)
        try:
            await buf.append(readings)
        except BufferFull:
            self.refused += n
            self.appends_refused += 1
            return False
        except Exception as exc:  # the outcome that must never happen
            self.errors.append(repr(exc))
            return False
        self.ok += n
        self.appends_ok += 1
        return True


class ChattyDriver:
    """A device that always answers: 20 long string points per read. A read waits while the driver is
    paused, and never returns once it is stopping: the poller can be held or cancelled between two polls
    (every append it made has finished)."""

    name = "fake-bus"

    def __init__(self) -> None:
        self.stopping = False
        self.gate = asyncio.Event()
        self.gate.set()
        self.parked = asyncio.Event()  # a read is waiting at the gate

    def devices(self) -> Sequence[str]:
        return ["lum-99"]

    async def read(self, device: str) -> Sequence[PointValue]:
        while self.stopping or not self.gate.is_set():
            self.parked.set()
            await (asyncio.Event() if self.stopping else self.gate).wait()
        self.parked.clear()
        return [PointValue(p, "y" * 200) for p in POINTS]

    async def write(self, device: str, point: str, value: Value) -> None:
        raise NotImplementedError

    async def call(self, device: str, action: str, args: Mapping[str, Value]) -> Value:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


@dataclass
class Polling:
    """A real poller task on the buffer, polling every 20 ms."""

    poller: DevicePoller
    driver: ChattyDriver
    task: asyncio.Task[None]

    @classmethod
    def start(cls, buf: Buffer, clock: Clock) -> Polling:
        driver = ChattyDriver()
        p = DevicePoller(
            driver=driver,
            device="lum-99",
            points=POINTS,
            interval_s=0.02,
            offset_s=0,
            buffer=buf,
            clock=clock,
        )
        return cls(p, driver, asyncio.create_task(p.run(), name="poll-lum-99"))

    async def pause(self) -> None:
        """Hold the poller between two polls (in its next read)."""
        self.driver.gate.clear()
        await asyncio.wait_for(self.driver.parked.wait(), 5)

    def resume(self) -> None:
        self.driver.gate.set()

    async def stop(self, tally: Tally) -> bool:
        """Stop between two polls; add its readings to the tally; whether the task was still alive."""
        alive = not self.task.done()
        self.driver.stopping = True
        self.driver.parked.clear()
        self.driver.gate.set()
        if alive:
            await asyncio.wait_for(self.driver.parked.wait(), 5)
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        polls = self.poller.health.polls - (1 if alive else 0)  # the last one is stuck in its read
        refused = self.poller.health.not_buffered
        tally.ok += polls * (len(POINTS) + 1) - refused
        tally.refused += refused
        return alive


async def report(buf: Buffer, pollers: Sequence[DevicePoller], tally: Tally) -> dict[str, Any]:
    """One health report through the real reporter; its own readings go into the tally too."""
    before = (await buf.stats()).counters[Counter.DROPPED_DISK_FULL]
    points = {r.point: r.value for r in await reporter(buf, pollers, SystemClock()).report()}
    refused = (await buf.stats()).counters[Counter.DROPPED_DISK_FULL] - before
    tally.refused += refused
    tally.ok += len(points) - refused
    return points


def reporter(buf: Buffer, pollers: Sequence[DevicePoller], clock: Clock) -> HealthReporter:
    uplink = Uplink.up(connected=False)
    return HealthReporter(
        buffer=buf,
        publisher=uplink,  # only its counters are read
        link=uplink,  # only its connected flag is read
        pollers=pollers,
        clock=clock,
        interval_s=60,
    )


async def deliver_some(buf: Buffer, tally: Tally) -> None:
    """The uplink, half working: connected (each commit's chunks are a unit of their own; the open
    backlog group closes at the next commit), it takes one unit a look — live first, as the real one:
    units closed since it connected, and only when it has taken them all, the backlog (what the buffer
    held when it connected), oldest first — and acknowledges every other one."""
    buf.online = True
    if tally.backlog is None:
        tally.backlog = tally.taken = buf.newest_key()
    units, _ = await buf.backlog(tally.taken, buf.newest_key(), 1)
    if units:
        tally.taken = units[-1].key.seq
    else:
        units, _ = await buf.backlog(tally.backlog_taken, tally.backlog, 1)
        if units:
            tally.backlog_taken = units[-1].key.seq
    for unit in units:
        if unit.key.seq % 2 == 0:
            tally.confirmed += await buf.ack([unit.key.seq])


async def open_buffer(
    path: Path, clock: Clock, when_full: WhenFull = WhenFull.DROP_OLDEST, max_bytes: int = 256 << 20
) -> Buffer:
    """By default the configured cap is far more than the disk: the disk is the bound."""
    return await Buffer.open(
        path,
        gateway="gw",
        clock=clock,
        max_bytes=max_bytes,
        commit_interval_s=0,
        retention=Retention(when_full=when_full),
        disk_check_s=0,  # look at the disk after every commit
    )


def disk(path: Path) -> dict[str, int]:
    st = os.statvfs(path.parent)
    files = {p.name.removeprefix(path.name) or "db": p.stat().st_blocks * 512 for p in path.parent.iterdir()}
    return {"free": st.f_bavail * st.f_frsize, **files}


def eat_disk(path: Path) -> int:
    """Another process's file takes every free byte; returns how many it got."""
    got = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            got += os.write(fd, b"\0" * 4096)
    except OSError:
        return got
    finally:
        os.close(fd)


def keep_eating(path: Path, stop: threading.Event) -> int:
    """A runaway writer: takes every byte that comes free until ``stop``; returns how many it got."""
    got = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while not stop.is_set():
            try:
                got += os.write(fd, b"\0" * 4096)
            except OSError:
                stop.wait(0.001)
    finally:
        os.close(fd)
    return got


async def pages_beyond_file(buf: Buffer, path: Path) -> bool:
    """Whether the database has pages only the WAL holds so far: a checkpoint must grow the file."""
    stats = await buf.stats()
    return stats.bytes > (await asyncio.to_thread(path.stat)).st_size


def contents(path: Path) -> dict[str, Any]:
    """What the file holds, read with plain sqlite3 (not through the buffer), and its integrity."""
    db = sqlite3.connect(path)
    try:
        (group,) = db.execute("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'open_group'").fetchone()
        held = "SELECT COALESCE(SUM(readings), 0) FROM chunks WHERE grp {} ?"
        return {
            "integrity": db.execute("PRAGMA integrity_check").fetchone()[0],
            "unsealed": db.execute(held.format("="), (group,)).fetchone()[0],  # the open backlog group
            "sealed": db.execute(held.format("!="), (group,)).fetchone()[0],  # closed units
            "counters": dict(db.execute("SELECT name, value FROM counters").fetchall()),
            "newest_ts": db.execute("SELECT COALESCE(MAX(newest_ts), 0) FROM chunks").fetchone()[0],
        }
    finally:
        db.close()


async def finish(
    buf: Buffer, path: Path, tally: Tally, out: dict[str, Any], max_bytes: int = 256 << 20
) -> dict[str, Any]:
    """Close, read the file directly, reopen (a restart) and compare."""
    stats = await buf.stats()
    out["final_stats"] = {
        "counters": stats.counters,
        "unsealed": stats.unsealed,
        "sealed": stats.sealed_readings,
        "cap": stats.cap_bytes,
        "disk_full": stats.disk_full,
    }
    await buf.close()
    out["file"] = contents(path)
    again = await open_buffer(path, SystemClock(), max_bytes=max_bytes)
    st = await again.stats()
    out["reopened"] = {"unsealed": st.unsealed, "sealed": st.sealed_readings, "counters": st.counters}
    await again.close()
    out["tally"] = asdict(tally)
    out["disk_end"] = disk(path)
    return out


# ---- the scenarios ---------------------------------------------------------------------------------
async def fill(dir_: Path, when_full: str) -> dict[str, Any]:
    """The buffer alone fills the disk: the disk's cap takes the clean path, no write ever fails."""
    path = dir_ / "buffer.db"
    clock = SystemClock()
    buf = await open_buffer(path, clock, WhenFull(when_full))
    out: dict[str, Any] = {"disk_start": disk(path)}
    tally = Tally()
    numbers = WhenFull(when_full) is WhenFull.THIN
    min_free = out["disk_start"]["free"]
    size = sum(out["disk_start"].values())

    async def producer() -> None:  # about 2.5 times the disk, whatever the readings
        for _ in range(100):
            await tally.append(buf, 400 if numbers else 100, numbers=numbers)

    async def watcher() -> None:
        nonlocal min_free
        while not done.is_set():
            min_free = min(min_free, (await asyncio.to_thread(disk, path))["free"])
            await deliver_some(buf, tally)
            await asyncio.sleep(0.005)

    done = asyncio.Event()
    watch = asyncio.create_task(watcher())
    await asyncio.gather(*(producer() for _ in range(4)))
    done.set()
    await watch
    stats = await buf.stats()
    out.update(
        min_free=min_free,
        fs_bytes=size,
        reserve_kept="-reserve" in disk(path),
        disk_full_seen=stats.disk_full,
        cap=stats.cap_bytes,
        errors_logged=RECORDS.count("ERROR", "buffer disk full"),
    )
    return await finish(buf, path, tally, out)


FITS = 2 << 20  # a cap that fits the 4 MiB disk, until another file takes the space


async def eaten(dir_: Path) -> dict[str, Any]:
    """Another file takes all the free space between two commits, while the WAL holds pages a checkpoint
    must still add to the file: the reserve gets the buffer out, it makes room inside its file and goes
    on; the agent restarts on the full disk; space comes back and the episode ends."""
    path = dir_ / "buffer.db"
    clock = SystemClock()
    buf = await open_buffer(path, clock, max_bytes=FITS)
    tally = Tally()
    out: dict[str, Any] = {"disk_start": disk(path)}
    polling = Polling.start(buf, clock)
    for _ in range(60):  # about 1.2 MB in the buffer
        await tally.append(buf, 100)
    while not await pages_beyond_file(buf, path):  # a checkpoint will need the disk to grow the file
        await tally.append(buf, 5)
    await polling.pause()
    # The other process, on the loop's thread (blocking it on purpose): nothing of ours runs meanwhile.
    out["filler_bytes"] = eat_disk(dir_ / "filler")
    out["disk_after_filler"] = disk(path)
    polls_before = polling.poller.health.polls
    polling.resume()

    async def producer() -> None:
        for _ in range(40):
            await tally.append(buf, 100)
            await deliver_some(buf, tally)

    await asyncio.gather(producer(), producer())
    out["tail_ok"] = [await tally.append(buf, 100) for _ in range(30)]  # the disk stays full
    out["reserve_released"] = RECORDS.count("WARNING", "released the disk reserve")
    out["episode_errors"] = RECORDS.count("ERROR", "buffer disk full")
    out["polls_during"] = polling.poller.health.polls - polls_before
    out["poller_alive"] = await polling.stop(tally)
    out["not_buffered_by_poller"] = polling.poller.health.not_buffered
    out["points"] = await report(buf, [polling.poller], tally)

    await buf.close()  # the agent restarts, the disk still full
    out["disk_at_restart"] = disk(path)
    buf = await open_buffer(path, clock, max_bytes=FITS)
    out["after_restart_ok"] = [await tally.append(buf, 100) for _ in range(20)]
    (dir_ / "filler").unlink()  # someone cleans up: the episode ends at the next look
    await tally.append(buf, 10)
    stats = await buf.stats()
    out["disk_full_after_cleanup"] = stats.disk_full
    out["reserve_after_cleanup"] = "-reserve" in disk(path)
    out["space_back_logged"] = RECORDS.count("INFO", "disk space is back")
    return await finish(buf, path, tally, out, FITS)


async def hungry(dir_: Path) -> dict[str, Any]:
    """A runaway writer keeps taking every byte that comes free — the reserve too, when the buffer lets
    it go — while the buffer and a poller run; it stops, and the agent restarts on the full disk. Whatever
    the timing, nothing but BufferFull comes out of an append, and every reading is accounted for."""
    path = dir_ / "buffer.db"
    clock = SystemClock()
    buf = await open_buffer(path, clock, max_bytes=FITS)
    tally = Tally()
    out: dict[str, Any] = {}
    polling = Polling.start(buf, clock)
    for _ in range(40):
        await tally.append(buf, 100)
    stop = threading.Event()
    eater = asyncio.create_task(asyncio.to_thread(keep_eating, dir_ / "filler", stop))

    async def producer(rounds: int) -> None:
        for _ in range(rounds):
            await tally.append(buf, 100)
            await deliver_some(buf, tally)

    try:
        await asyncio.gather(producer(40), producer(40))
        out["poller_alive"] = await polling.stop(tally)
    finally:
        stop.set()
        out["eaten_bytes"] = await eater
    out["refused_while_eaten"] = tally.refused
    await buf.close()  # the agent restarts, the disk full
    buf = await open_buffer(path, clock, max_bytes=FITS)
    polling = Polling.start(buf, clock)
    await producer(20)
    out["poller_alive_after_restart"] = await polling.stop(tally)
    (dir_ / "filler").unlink()
    out["after_space_back"] = [await tally.append(buf, 50) for _ in range(5)]
    return await finish(buf, path, tally, out, FITS)


async def wedged(dir_: Path) -> dict[str, Any]:
    """No reserve, the disk full while a checkpoint needs to grow the file: nothing can be committed
    until space comes back; polling goes on and every refused reading is counted."""
    path = dir_ / "buffer.db"
    clock = SystemClock()
    buf = await open_buffer(path, clock, max_bytes=FITS)
    tally = Tally()
    out: dict[str, Any] = {}
    for _ in range(20):
        await tally.append(buf, 100)
    while not await pages_beyond_file(buf, path):
        await tally.append(buf, 5)
    # As if the reserve could never be allocated: it goes and the disk fills in one go, on the loop's
    # thread (blocking it on purpose), so that the buffer cannot allocate it again in between.
    (dir_ / "buffer.db-reserve").unlink()
    out["filler_bytes"] = eat_disk(dir_ / "filler")
    polling = Polling.start(buf, clock)
    out["outcomes"] = [await tally.append(buf, 100) for _ in range(60)]
    out["poller_alive"] = await polling.stop(tally)
    out["poller_not_buffered"] = polling.poller.health.not_buffered
    out["live_dropped_disk_full"] = (await buf.stats()).counters[Counter.DROPPED_DISK_FULL]
    out["refused_so_far"] = tally.refused
    out["points"] = await report(buf, [polling.poller], tally)
    out["refuse_errors"] = RECORDS.count("ERROR", "no room to commit")
    out["episode_errors"] = RECORDS.count("ERROR", "buffer disk full")
    await buf.close()  # the agent restarts while nothing can be written: the count must survive it
    buf = await open_buffer(path, clock, max_bytes=FITS)
    out["after_restart"] = [await tally.append(buf, 100) for _ in range(5)]
    out["live_after_restart"] = (await buf.stats()).counters[Counter.DROPPED_DISK_FULL]
    out["dropped_while_wedged"] = (await buf.stats()).counters[Counter.DROPPED_BUFFER_FULL]
    (dir_ / "filler").unlink()
    out["after_space_back"] = [await tally.append(buf, 50) for _ in range(5)]
    out["commits_again_logged"] = RECORDS.count("INFO", "buffer commits again")
    return await finish(buf, path, tally, out, FITS)


RECORDS = Records()


def main() -> None:
    name, dir_ = sys.argv[1], Path(sys.argv[2])
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger().addHandler(RECORDS)
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    scenarios = {
        "fill-drop_oldest": lambda: fill(dir_, "drop_oldest"),
        "fill-thin": lambda: fill(dir_, "thin"),
        "eaten": lambda: eaten(dir_),
        "hungry": lambda: hungry(dir_),
        "wedged": lambda: wedged(dir_),
    }
    result = asyncio.run(scenarios[name]())
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
