"""A buffer file holding a backlog, written by the agent's own :class:`Buffer` (``append``).

The backlog is what a cabinet's agent commits during an uplink outage: every luminaire's 10 points and
its ``online`` point once a second (the polls of one second spread over it, as the poller's offsets
do), and the ``_agent`` health points every ``health_interval_s``, in time order, ending just before now.
Values have the types the driver gives them (counters as integers, scaled values as floats, ``online``
as a boolean) and plausible magnitudes.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.stackrun import new_buffer_file
from edge_agent.buffer.store import Buffer
from edge_agent.clock import SystemClock
from edge_agent.counters import Counter
from wire.points import Reading, Value

HEALTH_POINTS = (  # edge_agent/health/reporter.py's, for one bus
    *("buffer_unsealed", "buffer_sealed_readings", "buffer_bytes", "buffer_oldest_age_s"),
    *("buffer_cap_bytes", "buffer_disk_full", "uplink_connected", "devices_offline"),
    *(str(c) for c in Counter),  # every counter is reported
    "buffer_disk_free_bytes",
    *("bus.requests_total", "bus.queue_depth", "bus.queue_max", "bus.busy_fraction"),
)
FALSE_POINTS = ("buffer_disk_full", "uplink_connected")


@dataclass(frozen=True)
class Backlog:
    path: Path
    readings: int
    first_ts: int
    last_ts: int
    seconds: float  # how long it took to build
    last_seq: int  # the highest chunk key of the backlog: the agent's own units come after it
    stats_s: float  # one Buffer.stats() on it (the health report's and `edge-agent flush`'s look)

    @property
    def span_h(self) -> float:
        return (self.last_ts - self.first_ts) / 3_600_000


def per_second(luminaires: int, health_interval_s: float) -> float:
    """Readings an agent commits per second at this load."""
    return luminaires * 11 + len(HEALTH_POINTS) / health_interval_s


def readings(
    n: int, *, luminaires: int, health_interval_s: float, end_ms: int, bus: str = "dali-gw-1"
) -> Iterator[Reading]:
    """``n`` readings of an outage that ends at ``end_ms``, oldest first."""
    start_ms = end_ms - int(n / per_second(luminaires, health_interval_s) * 1000)
    health_every = max(1, round(health_interval_s))
    emitted = 0
    second = 0
    while True:
        t0 = start_ms + second * 1000
        for sa in range(luminaires):
            ts = t0 + 1000 * sa // luminaires
            dev = f"lum-{sa:02d}"
            level = 100 if (second // 600 + sa) % 4 else 70
            values: tuple[tuple[str, Value], ...] = (
                ("status", 4),
                ("level", level),
                ("led_failure", 0),
                ("active_energy", 812_345 + sa * 97 + second * level // 200),
                ("active_power", round(0.57 * level + (sa % 7) / 10, 1)),
                ("operating_time", 31_500_000 + sa * 11 + second),
                ("start_counter", 1_200 + sa),
                ("gear_temperature", 35 + level // 10 + sa % 3),
                ("supply_voltage", round(229.0 + (sa % 30) / 10 + (second % 3) / 10, 1)),
                ("light_source_failure", 0),
                ("online", True),
            )
            for point, value in values:
                yield Reading(dev, point, ts, value)
                emitted += 1
                if emitted == n:
                    return
        if second % health_every == 0:
            for i, point in enumerate(HEALTH_POINTS):
                name = point.replace("bus.", f"bus.{bus}.")
                health: Value = False if point in FALSE_POINTS else emitted + i
                if point == "bus.busy_fraction":
                    health = 0.4125
                yield Reading("_agent", name, t0 + 999, health)
                emitted += 1
                if emitted == n:
                    return
        second += 1


async def _build(
    path: Path,
    n: int,
    *,
    gateway: str,
    luminaires: int,
    health_interval_s: float,
    max_bytes: int,
    page_size: int | None,
    batch_readings: int,
) -> Backlog:
    t0 = time.perf_counter()
    end_ms = time.time_ns() // 1_000_000 - 1000
    new_buffer_file(path, page_size)
    buf = await Buffer.open(
        path,
        gateway=gateway,
        clock=SystemClock(),
        max_bytes=max_bytes,
        commit_interval_s=0,
        batch_readings=batch_readings,
    )
    # As the agent commits it during an outage: a group commit every 0.5 s, each a chunk that joins the
    # open backlog group (the link is down), groups of >= 1,000 readings.
    per_commit = max(1, round(per_second(luminaires, health_interval_s) / 2))
    first = last = 0
    try:
        chunk: list[Reading] = []
        for r in readings(n, luminaires=luminaires, health_interval_s=health_interval_s, end_ms=end_ms):
            chunk.append(r)
            if len(chunk) == per_commit:
                first = first or chunk[0].ts_ms
                await buf.append(chunk)
                chunk = []
        if chunk:
            first = first or chunk[0].ts_ms
            await buf.append(chunk)
        last = r.ts_ms
        held = await buf.stats()
        assert held.unsealed + held.sealed_readings == n, f"{held} readings in the buffer, {n} wanted"
        last_seq = buf.newest_key()
        built = time.perf_counter() - t0
        stats_s = []
        for _ in range(3):
            t1 = time.perf_counter()
            await buf.stats()
            stats_s.append(time.perf_counter() - t1)
    finally:
        await buf.close()  # the last connection: SQLite checkpoints and removes the WAL
    return Backlog(path, n, first, last, built, last_seq, min(stats_s))


def build(
    path: Path,
    n: int,
    *,
    gateway: str,
    luminaires: int = 50,
    health_interval_s: float = 5.0,
    max_bytes: int = 2 << 30,
    page_size: int | None = None,
    batch_readings: int = 1000,
) -> Backlog:
    """Write a buffer at ``path`` holding ``n`` unsealed readings (a file the agent opens as its own);
    ``page_size``: SQLite's page size (default: the one the agent's ``Buffer.open`` gets, 4096)."""
    return asyncio.run(
        _build(
            path,
            n,
            gateway=gateway,
            luminaires=luminaires,
            health_interval_s=health_interval_s,
            max_bytes=max_bytes,
            page_size=page_size,
            batch_readings=batch_readings,
        )
    )


def left(buffer: sqlite3.Connection, last_seq: int) -> tuple[int, int]:
    """Backlog readings still in the buffer's open group, and backlog units not yet confirmed (deleted)."""
    (group,) = buffer.execute("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'open_group'").fetchone()
    (unsent,) = buffer.execute(
        "SELECT COALESCE(SUM(readings), 0) FROM chunks WHERE seq <= ? AND grp = ?", (last_seq, group)
    ).fetchone()
    (units,) = buffer.execute(
        "SELECT COUNT(DISTINCT grp) FROM chunks WHERE seq <= ? AND grp != ?", (last_seq, group)
    ).fetchone()
    return int(unsent), int(units)
