"""Watch a live SQLite WAL from outside, without SQLite and without taking any lock.

Reads the WAL index (``-shm``: how many frames are valid, how many were copied back) and the headers
of the frames appended since the last look (``-wal``: which page each frame holds, whether it ends a
transaction). From that: transactions (each one is an fsync of the WAL under ``synchronous=FULL``),
WAL frames written, checkpoints and the pages each copied back into the database file. File formats:
https://www.sqlite.org/fileformat2.html (sections 4.1-4.3 and the WAL-index header); the ``-shm`` header
is in native byte order, the ``-wal`` file big-endian.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

WAL_HEADER = 32
FRAME_HEADER = 24
_NATIVE = "<" if sys.byteorder == "little" else ">"


@dataclass
class WalCounts:
    transactions: int = 0
    frames: int = 0
    checkpoints: int = 0
    pages_checkpointed: int = 0  # pages copied from the WAL into the database file
    restarts: int = 0  # the WAL started over from its first frame (after a complete checkpoint)


@dataclass
class WalWatch:
    db: Path
    counts: WalCounts = field(default_factory=WalCounts)
    _mx: int = 0  # frames of the current WAL generation read so far
    _backfill: int = 0
    _salt: bytes = b""
    _pages: list[int] = field(default_factory=list)  # page of each frame of the current generation
    _page_size: int | None = None

    def __post_init__(self) -> None:
        mx, backfill, salt = self._index()
        self._mx, self._backfill, self._salt = mx, backfill, salt
        self._pages = [page for page, _ in self._frames(0, mx, salt)]

    @property
    def wal(self) -> Path:
        return Path(f"{self.db}-wal")

    @property
    def page_size(self) -> int:
        """The database's page size, from the first WAL header seen (4096 until there is one)."""
        if self._page_size is None:
            try:
                with self.wal.open("rb") as f:
                    head = f.read(WAL_HEADER)
            except FileNotFoundError:
                return 4096
            if len(head) < WAL_HEADER:
                return 4096
            self._page_size = int(struct.unpack(">I", head[8:12])[0])
        return self._page_size

    def wal_bytes(self) -> int:
        return self.wal.stat().st_size if self.wal.exists() else 0

    def poll(self) -> list[tuple[int, bool]]:
        """Frames appended since the last poll: (page number, ends a transaction), oldest first."""
        mx, backfill, salt = self._index()
        new: list[tuple[int, bool]] = []
        if salt != self._salt:  # the WAL restarted: first the end of the old generation we had not read
            old = list(self._frames(self._mx, 1 << 30, self._salt))
            self._count(old)
            new += old
            self._checkpointed(len(self._pages))
            self.counts.restarts += bool(self._salt)
            self._mx, self._backfill, self._salt, self._pages = 0, 0, salt, []
        frames = list(self._frames(self._mx, mx, salt))
        self._count(frames)
        new += frames
        self._mx = mx
        if backfill > self._backfill:
            self._checkpointed(backfill)
        return new

    def _count(self, frames: list[tuple[int, bool]]) -> None:
        self._pages += [page for page, _ in frames]
        self.counts.frames += len(frames)
        self.counts.transactions += sum(1 for _, commit in frames if commit)

    def _checkpointed(self, upto: int) -> None:
        if upto <= self._backfill:
            return
        self.counts.checkpoints += 1
        self.counts.pages_checkpointed += len(set(self._pages[self._backfill : upto]))
        self._backfill = upto

    def _index(self) -> tuple[int, int, bytes]:
        """mxFrame, nBackfill and the salts, from the first WAL-index header and the checkpoint info."""
        try:
            with Path(f"{self.db}-shm").open("rb") as f:
                head = f.read(100)  # not the whole index: it grows with the WAL
        except FileNotFoundError:
            return 0, 0, b""
        if len(head) < 100:
            return 0, 0, b""
        (mx,) = struct.unpack_from(_NATIVE + "I", head, 16)
        (backfill,) = struct.unpack_from(_NATIVE + "I", head, 96)
        return int(mx), int(backfill), head[32:40]  # the salts: the WAL header's bytes, copied

    def _frames(self, start: int, stop: int, salt: bytes) -> list[tuple[int, bool]]:
        """Frame headers ``start`` .. ``stop - 1`` that carry ``salt`` (stop at the first that does not)."""
        out: list[tuple[int, bool]] = []
        if not salt or stop <= start or not self.wal.exists():
            return out
        step = FRAME_HEADER + self.page_size
        with self.wal.open("rb") as f:
            for i in range(start, stop):
                f.seek(WAL_HEADER + i * step)
                head = f.read(FRAME_HEADER)
                if len(head) < FRAME_HEADER or head[8:16] != salt:
                    break
                page, size_after = struct.unpack(">II", head[:8])
                out.append((page, size_after != 0))
        return out
