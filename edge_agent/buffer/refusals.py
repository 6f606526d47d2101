"""Readings the buffer refused for lack of room, counted where a full disk cannot stop the count.

Their count belongs in the database (``readings_dropped_disk_full_total``), but a full disk is exactly
when the database cannot take it. So the buffer also keeps the running total of every reading it refused
in a small file next to it, ``<buffer>-refused``: written whole when the buffer opens (while there is
room), then only overwritten in place, at the same size, which needs no new space. What the database has
not counted yet is the difference between the two totals; it is added to
``readings_dropped_disk_full_total`` in the same transaction as the next readings that get in. Both
totals only grow, so a crash between the two writes neither loses nor doubles a count, and a restart
while the disk is still full keeps it. The file names the buffer's epoch: a new buffer file does not
inherit an old count.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

WIDTH = 48  # "<epoch> <total>", padded: the file never changes size


def refusals_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-refused")


def _read(path: Path, epoch: str) -> int:
    """Blocking. The total the file holds for ``epoch``; 0 when there is none (or not for this epoch)."""
    try:
        fields = path.read_text(encoding="ascii").split()
    except (FileNotFoundError, UnicodeDecodeError):
        return 0
    if len(fields) != 2 or fields[0] != epoch or not fields[1].isdigit():
        return 0
    return int(fields[1])


def _write(path: Path, epoch: str, total: int) -> None:
    """Blocking: overwrite the file in place with the new total, durably."""
    line = f"{epoch} {total}".ljust(WIDTH - 1).encode("ascii") + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, line, 0)
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(slots=True)
class Refusals:
    path: Path
    epoch: str
    total: int  # readings refused for lack of room, ever, in this buffer file (the file's figure)
    counted: int  # how many of them ``readings_dropped_disk_full_total`` holds
    _warned: bool = False

    @property
    def uncounted(self) -> int:
        return max(0, self.total - self.counted)

    @classmethod
    async def open(cls, db_path: Path, epoch: str, counted: int) -> Refusals:
        path = refusals_path(db_path)
        total = await asyncio.to_thread(_read, path, epoch)
        refusals = cls(path, epoch, max(total, counted), counted)
        await refusals._save()
        return refusals

    async def refuse(self, n: int) -> None:
        self.total += n
        await self._save()

    def counted_in_database(self, n: int) -> None:
        """The transaction that added ``n`` to ``readings_dropped_disk_full_total`` committed."""
        self.counted += n

    async def _save(self) -> None:
        try:
            await asyncio.to_thread(_write, self.path, self.epoch, self.total)
        except OSError as exc:  # kept in memory: the next commit that gets in still counts it
            if not self._warned:
                log.warning("cannot keep the count of refused readings in %s: %s", self.path, exc)
                self._warned = True
