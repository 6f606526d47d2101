"""The buffer's room: the cap in force, and what the buffer does when a write finds none.

The cap is ``buffer.max_bytes`` or, when the filesystem has less room, the disk's
(:mod:`edge_agent.buffer.disk`), applied as SQLite's ``max_page_count`` at open, every
``disk_check_s`` and before anything is given up at a disk's cap (it may be out of date). A write that
finds no room (SQLITE_FULL) calls :meth:`Room.make`: when the disk is short — not just the cap reached —
it starts a disk-full episode and releases the reserve, so that a checkpoint can finish and the WAL can
start over inside its own file; then the ``when_full`` policy gives data up (:mod:`.bounds`, counted).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import aiosqlite

from edge_agent.buffer.access import Access
from edge_agent.buffer.bounds import Bounds
from edge_agent.buffer.database import connect, no_space, row
from edge_agent.buffer.disk import DiskPlan, DiskSpace, measure, release, reserve_path
from edge_agent.buffer.groups import Depth
from edge_agent.buffer.retention import Retention
from edge_agent.clock import Clock

log = logging.getLogger(__name__)


class Room:
    def __init__(
        self,
        *,
        access: Access,
        space: DiskSpace,
        page_size: int,
        policy: Retention,
        clock: Clock,
        depth: Depth,
        gateway: str,
        epoch: str,
    ) -> None:
        self._access = access
        self.space = space
        self._page_size = page_size
        self.bounds = Bounds(
            access=access,
            policy=policy,
            space=space,
            clock=clock,
            depth=depth,
            gateway=gateway,
            epoch=epoch,
            look_again=self.look,
        )

    async def make(self) -> None:
        """A write found no room: get the WAL going again if the disk is short, then give data up."""
        space = self.space
        before = space.cap
        await space.refresh()
        disk = space.short_of_space() or not await self._checkpoint()
        if disk:
            space.start_episode("no space left on the device")
            if await space.release_reserve():
                await self._checkpoint()
                await space.refresh()
        await self._apply_cap()
        # Forced only when the cap itself was the limit and still is (a cap that grew — space came
        # back — lets the retry in without giving anything up).
        await self.keep(force=not disk and space.cap <= before)

    async def keep(self, *, force: bool) -> None:
        """Apply the bounds; ``force``: the cap was reached, give up at least one step's worth."""
        try:
            await self.bounds.apply(force=force)
        except Exception as exc:  # the bounds are checked again after the next commit
            if no_space(exc):
                log.debug("no room to give data up: %s", exc)
            else:
                log.exception("could not apply the buffer's bounds")

    async def look(self) -> None:
        """Look at the filesystem again and apply the cap it allows."""
        try:
            await self.space.refresh()
            await self._apply_cap()
        except Exception:  # looked at again after the next commit
            log.exception("could not apply the disk's cap to the buffer")

    async def _checkpoint(self) -> bool:
        """A passive checkpoint; False when the database file had no room for the WAL's pages."""
        async with self._access.locked() as db:
            try:
                await row(db, "PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.OperationalError as exc:
                if not no_space(exc):
                    raise
                return False
        return True

    async def _apply_cap(self) -> None:
        async with self._access.locked() as db:  # SQLite keeps it at the current page count if that is larger
            await db.execute(f"PRAGMA max_page_count={self.space.cap // self._page_size}")


async def open_with_room(
    path: Path, *, gateway: str, max_bytes: int, clock: Clock, check_s: float
) -> tuple[aiosqlite.Connection, str, DiskSpace]:
    """Open the buffer's file (:func:`.database.connect`) even on a full disk — where SQLite cannot
    even map its WAL index, the reserve goes first — and size it to its filesystem. Returns the
    connection, the epoch and the filesystem's view."""
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    usage = await asyncio.to_thread(measure, path)
    if usage.reserve and usage.free < DiskPlan.for_filesystem(usage.total, 4096).wal_bytes:
        log.warning("%s: the filesystem is full (%d bytes free), releasing the reserve", path, usage.free)
        await asyncio.to_thread(release, reserve_path(path))
    try:
        db, epoch, page = await connect(path, max_bytes, gateway)
    except sqlite3.OperationalError as exc:
        if not no_space(exc):
            raise
        if not await asyncio.to_thread(release, reserve_path(path)):
            log.error("no room on the filesystem at %s even to open the buffer (%s)", path.parent, exc)
            raise
        log.warning("no room to open %s (%s): released the reserve", path, exc)
        db, epoch, page = await connect(path, max_bytes, gateway)
    try:
        usage = await asyncio.to_thread(measure, path)
        plan = DiskPlan.for_filesystem(usage.total, page)
        await db.execute(f"PRAGMA wal_autocheckpoint={plan.wal_pages}")
        space = DiskSpace(path, plan, max_bytes=max_bytes, clock=clock, check_s=check_s)
        await space.refresh()
        await db.execute(f"PRAGMA max_page_count={space.cap // page}")
    except BaseException:
        await db.close()
        raise
    if space.disk_bound:
        log.warning(
            "buffer.max_bytes (%d) does not fit on the filesystem at %s: the buffer keeps to %d bytes",
            max_bytes,
            path.parent,
            space.cap,
        )
    return db, epoch, space
