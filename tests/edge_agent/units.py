"""Test helpers for the buffer's units: what an uplink would send now."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge_agent.buffer.chunks import SealedBatch
from edge_agent.buffer.store import Buffer


async def sendable(buf: Buffer, limit: int = 1000) -> list[SealedBatch]:
    """Close the open backlog group (as a reconnection does), then every unit to send, oldest first."""
    await buf.close_group()
    return await buf.sealed(limit)


async def first_unit(buf: Buffer) -> SealedBatch | None:
    units = await sendable(buf, 1)
    return units[0] if units else None


def chunk_rows(path: Path) -> list[tuple[int, int, int, bytes]]:
    """(seq, grp, readings, payload) of every chunk in the file, by seq."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return [
            (int(s), int(g), int(n), bytes(p))
            for s, g, n, p in db.execute(
                "SELECT c.seq, c.grp, c.readings, p.payload FROM chunks c JOIN payloads p ON p.seq = c.seq "
                "ORDER BY c.seq"
            )
        ]
