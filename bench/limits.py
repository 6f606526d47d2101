"""The limits a drain is compared with, measured on the same machine in the same run (bench/ingest.py's
measurements, with the agent's batch size and window)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench import ingest
from bench.stackrun import remove_db, wait_until
from harness.broker import Broker
from harness.stack import BIN, Proc


def raw_sqlite(path: Path, batches: int, size: int) -> float:
    """Plain inserts of the store's rows, one commit per batch, WAL, ``synchronous=FULL``."""
    try:
        return ingest.raw_sqlite(path, batches, size, "FULL")
    finally:
        remove_db(path)


def collector(work: Path, batch: int, window: int, batches: int) -> float:
    """The collector's ingest rate from a simulated gateway (bench/ingest.py), own broker and store."""
    store = work / "limit-store.db"
    remove_db(store)
    broker = Broker(work).start()
    config = work / "limit-collector.yaml"
    config.write_text(
        f"collector_id: bench-limit\nbroker: {{host: 127.0.0.1, port: {broker.port}}}\n"
        f'store: {{url: "sqlite:///{store}"}}\n'
    )
    log = work / "limit-collector.log"
    proc = Proc("collector", [str(BIN / "collector"), "run", "--config", str(config)], log)
    try:
        proc.start()
        if not wait_until(lambda: log.exists() and "connected to broker" in log.read_text(), 30):
            raise RuntimeError(f"the collector did not connect:\n{log.read_text()}")
        return asyncio.run(ingest.collector_rate(broker, ingest.make_batches(batches, batch), batch, window))
    finally:
        proc.stop()
        broker.stop()
        remove_db(store)
