"""The filesystem under the buffer: how much of it the buffer may take, and the reserve that gets it out
of a full disk.

``buffer.max_bytes`` is a promise the card may not keep: the card can be smaller, and logs or another
process eat space too. So the buffer keeps to what the filesystem really has::

    cap = min(max_bytes, free + buffer file + WAL + reserve file − WAL allowance − reserve size)

looked up (``statvfs``, off the event loop) at open, every ``check_s`` and whenever a write finds no
space, and applied as SQLite's ``max_page_count``: the usual way to a full disk is the clean one, the
``when_full`` policy at 90 % of the cap, never ``ENOSPC``.

The **WAL allowance** is room for the write-ahead log to hold two checkpoint intervals
(``wal_pages``, set as ``wal_autocheckpoint``: SQLite's 1000 pages, fewer on a filesystem under 2 GiB);
every step that gives data up is bounded to half an interval so that it fits (about 8 MiB of WAL room,
and as much again for the reserve, on a card of 2 GiB or more). The **reserve** is a file of the same
size, ``<buffer>-reserve``, allocated next to the buffer. When the disk fills anyway (another process
took the space between two looks, or the agent starts on a full disk) the buffer deletes it: that gives
a pending checkpoint the room to finish, so the WAL can start over inside its own file; the buffer then
makes room inside its database file and goes on. The reserve is allocated again once the filesystem
has room for it.

A **disk-full episode** starts when a write finds no space on the device, or when the buffer has to give
data up at a cap the disk set lower than ``max_bytes``; it is logged once at ERROR and reported
(``buffer_disk_full``) until the filesystem has room for ``max_bytes`` again (logged at INFO).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from edge_agent.clock import Clock
from edge_agent.counters import Counter

log = logging.getLogger(__name__)

MIN_CAP_PAGES = 64  # never plan a buffer smaller than this, whatever the disk says
WAL_PAGES_MAX = 1000  # wal_autocheckpoint on a filesystem of 2 GiB or more: SQLite's own default
WAL_PAGES_MIN = 32
SHM_BYTES = 64 * 1024  # the WAL index (-shm) and the WAL header, with room to spare


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """One look at the filesystem; file sizes are the bytes allocated to them (what deleting frees)."""

    total: int
    free: int  # available to an unprivileged process (statvfs f_bavail)
    db: int
    wal: int
    reserve: int

    @property
    def ours(self) -> int:
        return self.db + self.wal + self.reserve


@dataclass(frozen=True, slots=True)
class DiskPlan:
    """How the buffer sizes its WAL, its reserve and its steps on one filesystem."""

    page_size: int
    wal_pages: int

    @classmethod
    def for_filesystem(cls, total_bytes: int, page_size: int) -> DiskPlan:
        """1000 pages of WAL between checkpoints; on a filesystem under 2 GiB, 1/512 of it."""
        pages = total_bytes // (page_size * 512)
        return cls(page_size, max(WAL_PAGES_MIN, min(WAL_PAGES_MAX, pages)))

    @property
    def wal_bytes(self) -> int:
        """Room the WAL may need: two checkpoint intervals of frames (page + 24-byte header each)."""
        return 2 * self.wal_pages * (self.page_size + 24) + SHM_BYTES

    @property
    def reserve_bytes(self) -> int:
        return self.wal_bytes

    @property
    def step_bytes(self) -> int:
        """At most this much data is given up per transaction (each freed page is a WAL frame)."""
        return self.wal_pages * self.page_size // 2

    def cap(self, usage: DiskUsage, max_bytes: int) -> int:
        room = usage.free + usage.ours - self.wal_bytes - self.reserve_bytes
        return max(MIN_CAP_PAGES * self.page_size, min(max_bytes, room))


def reserve_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-reserve")


def measure(db_path: Path) -> DiskUsage:
    """Blocking (``statvfs`` and ``stat``): call it through :func:`asyncio.to_thread`."""
    st = os.statvfs(db_path.parent)
    return DiskUsage(
        total=st.f_blocks * st.f_frsize,
        free=st.f_bavail * st.f_frsize,
        db=_allocated(db_path),
        wal=_allocated(db_path.with_name(db_path.name + "-wal")),
        reserve=_allocated(reserve_path(db_path)),
    )


def _allocated(path: Path) -> int:
    try:
        return path.stat().st_blocks * 512
    except FileNotFoundError:
        return 0


def allocate(path: Path, size: int) -> bool:
    """Blocking: allocate ``size`` bytes of real disk blocks to ``path``; False (and no file) if the
    filesystem has no room for them."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, size)
        finally:
            os.close(fd)
    except OSError:
        with contextlib.suppress(OSError):
            path.unlink()
        return False
    return True


def release(path: Path) -> bool:
    """Blocking: delete ``path``; whether there was one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


class DiskSpace:
    """The buffer's view of its filesystem: the last look, the cap derived from it, the reserve and the
    disk-full episode. Every blocking call runs in a worker thread."""

    def __init__(
        self, db_path: Path, plan: DiskPlan, *, max_bytes: int, clock: Clock, check_s: float
    ) -> None:
        self.path = db_path
        self.plan = plan
        self.max_bytes = max_bytes
        self._clock = clock
        self._check_s = check_s
        self._next_check = clock.monotonic()
        self._warned_unmeasured = False
        self.usage: DiskUsage | None = None
        self.cap = max_bytes
        self.full = False  # a disk-full episode is on
        self.dropped: dict[Counter, int] = {}  # what the buffer gave up during the episode, by counter

    @property
    def disk_bound(self) -> bool:
        """Whether the cap in force is the disk's rather than ``max_bytes``."""
        return self.cap < self.max_bytes

    def due(self) -> bool:
        return self._clock.monotonic() >= self._next_check

    async def refresh(self) -> int:
        """Look at the filesystem, allocate the reserve if it is missing and there is room, end an
        episode the filesystem has recovered from; return the cap."""
        self._next_check = self._clock.monotonic() + self._check_s
        try:
            usage = await asyncio.to_thread(measure, self.path)
            want = self.plan.reserve_bytes
            wal_short = max(0, self.plan.wal_bytes - usage.wal)
            if usage.reserve < want and usage.free - (want - usage.reserve) >= wal_short:
                if await asyncio.to_thread(allocate, reserve_path(self.path), want):
                    log.debug("disk reserve of %d bytes allocated at %s", want, reserve_path(self.path))
                usage = await asyncio.to_thread(measure, self.path)
        except OSError as exc:  # keep the last cap: the buffer's own bounds still hold
            if not self._warned_unmeasured:
                log.warning("cannot look at the filesystem at %s: %s", self.path.parent, exc)
                self._warned_unmeasured = True
            return self.cap
        self.usage = usage
        self.cap = self.plan.cap(usage, self.max_bytes)
        if self.full and not self.disk_bound and usage.reserve >= self.plan.reserve_bytes:
            self.full = False
            log.info(
                "buffer disk space is back: %d bytes free on the filesystem at %s, cap %d bytes again; "
                "the episode cost %s readings",
                usage.free,
                self.path.parent,
                self.cap,
                ", ".join(f"{n} {k.reason}" for k, n in self.dropped.items() if n) or "no",
            )
        return self.cap

    def short_of_space(self) -> bool:
        """The filesystem has less free space than the WAL may still need: another process took it."""
        u = self.usage
        return u is not None and u.free + 4 * self.plan.page_size < self.plan.wal_bytes - u.wal

    def start_episode(self, why: str) -> None:
        """Log the start of a disk-full episode once, at ERROR (data is being given up)."""
        if self.full:
            return
        self.full = True
        self.dropped = {}
        log.error(
            "buffer disk full (%s): the filesystem at %s has room for %d bytes of buffer (buffer.max_bytes "
            "%d); the buffer makes room inside its file and counts every reading it gives up",
            why,
            self.path.parent,
            self.cap,
            self.max_bytes,
        )

    async def release_reserve(self) -> bool:
        """Delete the reserve file (its space goes to a checkpoint and to the WAL); whether there was one."""
        released = await asyncio.to_thread(release, reserve_path(self.path))
        if released:
            log.warning(
                "released the disk reserve %s to get the buffer out of a full disk", reserve_path(self.path)
            )
        return released
