"""Building blocks of the collector tests: configs, readings, and a collector running in-process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from collector.config import CollectorConfig
from collector.runtime import CollectorRuntime
from collector.sinks.base import Sink
from wire.points import Quality, Reading, Value
from wire.telemetry import BatchKey, encode_batch

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
EPOCH = "9f3c2a61d0b7e45a"


def make_config(host: str, port: int, store: Path, **sections: Any) -> CollectorConfig:
    raw: dict[str, Any] = {
        "collector_id": "test-collector",
        "broker": {"host": host, "port": port, "keepalive_s": 10},
        "store": {"url": f"sqlite:///{store.resolve()}"},
    }
    raw.update(sections)
    return CollectorConfig.model_validate(raw)


def readings(n: int, *, device: str = "lum-07", point: str = "active_power", t0: int = T0) -> list[Reading]:
    return [Reading(device, point, t0 + i * 1000, 40.0 + i) for i in range(n)]


def mixed_readings(t0: int = T0) -> list[Reading]:
    """One reading of each value type the agent may send, and a BAD one with a reason."""
    values: list[Value] = [41.5, 7, 2**60 + 1, "auto", True, False, None]
    out = [Reading("lum-07", f"p{i}", t0 + i, v) for i, v in enumerate(values)]
    out.append(Reading("lum-07", "lamp", t0 + 99, None, Quality.BAD, "exception 2: illegal address"))
    return out


def batch_payload(seq: int, rows: list[Reading], *, gateway: str = "cab-0042", epoch: str = EPOCH) -> bytes:
    return encode_batch(BatchKey(gateway, epoch, seq), rows)


@contextlib.asynccontextmanager
async def running(config: CollectorConfig, sink: Sink, **options: Any) -> AsyncIterator[CollectorRuntime]:
    """A collector runtime in a task; stopped (cleanly) on exit. The sink stays the caller's."""
    runtime = CollectorRuntime(config, sink, **options)
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop), name="collector-under-test")
    try:
        yield runtime
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
