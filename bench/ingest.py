"""Collector ingest rate through the real broker, next to the raw limits of the same machine.

Three figures, measured in one run:
1. raw SQLite: the same rows inserted by plain ``sqlite3.executemany`` into a table shaped like the
   store's, one commit per batch (the most the store could do on this disk);
2. raw broker: the same payloads published QoS 1 through Mosquitto to a subscriber, no store
   (the most MQTT + paho can move);
3. collector: batches of ``--batch`` readings from a simulated gateway through Mosquitto into the
   collector (decode, validate, de-duplicate, store, commit, confirm), timed from the first publish to
   the last confirmation, with ``--window`` batches unconfirmed at most (as the agent does).

    .venv/bin/python -m bench.ingest [--batches 300] [--batch 1000] [--window 16]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

from harness.broker import Broker
from harness.stack import BIN, Proc
from mqtt_session import Message, MqttLink
from wire import topics
from wire.confirm import decode_confirmation
from wire.points import Reading
from wire.telemetry import BatchKey, encode_batch

SITE, GW, EPOCH = "bench", "cab-bench", "0123456789abcdef"
BASE_TS = 1_767_225_600_000


def make_batches(n: int, size: int) -> list[bytes]:
    out = []
    for b in range(n):
        readings = [
            Reading(
                f"lum-{(i // 10) % 50:02d}", f"p{i % 10}", BASE_TS + b * 1000 + i // 500, float(i % 977) / 10
            )
            for i in range(size)
        ]
        out.append(encode_batch(BatchKey(GW, EPOCH, b + 1), readings))
    return out


def raw_sqlite(path: Path, n: int, size: int, synchronous: str) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute(
        "CREATE TABLE r (series_id INTEGER, ts_ms INTEGER, value_num REAL, value_text TEXT, quality INTEGER)"
    )
    db.execute("CREATE INDEX r_series_ts ON r (series_id, ts_ms)")
    rows = [[(i % 500, BASE_TS + b * 1000 + i, float(i), None, 0) for i in range(size)] for b in range(n)]
    t0 = time.perf_counter()
    for batch in rows:
        db.execute("BEGIN")
        db.executemany("INSERT INTO r VALUES (?,?,?,?,?)", batch)
        db.execute("COMMIT")
    dt = time.perf_counter() - t0
    db.close()
    return n * size / dt


async def raw_broker(broker: Broker, payloads: list[bytes], size: int, window: int) -> float:
    got = asyncio.Event()
    count = 0

    def on_msg(_: Message) -> None:
        nonlocal count
        count += 1
        if count == len(payloads):
            got.set()

    sub = MqttLink(client_id="bench-sub", host=broker.host, port=broker.port)
    sub.route("bench/raw", on_msg)
    pub = MqttLink(client_id="bench-pub", host=broker.host, port=broker.port, receive_maximum=window)
    tasks = [asyncio.create_task(sub.run()), asyncio.create_task(pub.run())]
    await sub.connected.wait()
    await pub.connected.wait()
    await asyncio.sleep(0.3)
    t0 = time.perf_counter()
    for p in payloads:
        while True:
            try:
                pub.publish("bench/raw", p, qos=1)
                break
            except ConnectionError:
                await asyncio.sleep(0.001)
        await asyncio.sleep(0)
    await asyncio.wait_for(got.wait(), 120)
    dt = time.perf_counter() - t0
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return len(payloads) * size / dt


async def collector_rate(broker: Broker, payloads: list[bytes], size: int, window: int) -> float:
    confirmed: set[int] = set()
    progress = asyncio.Event()

    def on_confirm(msg: Message) -> None:
        confirmed.update(decode_confirmation(msg.payload).stored)
        progress.set()

    link = MqttLink(client_id="bench-gw", host=broker.host, port=broker.port)
    link.route(topics.topic(SITE, GW, topics.TopicKind.CONFIRM), on_confirm)
    task = asyncio.create_task(link.run())
    await link.connected.wait()
    telemetry = topics.topic(SITE, GW, topics.TopicKind.TELEMETRY)
    t0 = time.perf_counter()
    for seq, p in enumerate(payloads, start=1):
        while seq - len(confirmed) > window:
            progress.clear()
            await asyncio.wait_for(progress.wait(), 60)
        link.publish(telemetry, p, qos=1)
    while len(confirmed) < len(payloads):
        progress.clear()
        await asyncio.wait_for(progress.wait(), 60)
    dt = time.perf_counter() - t0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return len(payloads) * size / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=300)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--window", type=int, default=16)
    args = ap.parse_args()
    payloads = make_batches(args.batches, args.batch)
    total = args.batches * args.batch
    print(
        f"{total} readings in {args.batches} batches of {args.batch}; payload {len(payloads[0])} bytes each"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        normal = raw_sqlite(work / "raw-normal.db", args.batches, args.batch, "NORMAL")
        sqlite_rate = raw_sqlite(work / "raw-full.db", args.batches, args.batch, "FULL")
        print(f"raw SQLite insert (executemany, 1 commit per batch, WAL, NORMAL): {normal:,.0f} readings/s")
        print(f"raw SQLite insert (same, synchronous=FULL as the store uses): {sqlite_rate:,.0f} readings/s")
        broker = Broker(work).start()
        try:
            mqtt_rate = asyncio.run(raw_broker(broker, payloads, args.batch, args.window))
            print(f"raw broker (QoS 1 publish -> subscriber, no store):      {mqtt_rate:,.0f} readings/s")
            (work / "collector.yaml").write_text(
                f"collector_id: bench\nbroker: {{host: 127.0.0.1, port: {broker.port}}}\n"
                f'store: {{url: "sqlite:///{work / "store.db"}"}}\n'
            )
            collector = Proc(
                "collector",
                [str(BIN / "collector"), "run", "--config", str(work / "collector.yaml")],
                work / "collector.log",
            ).start()
            time.sleep(1.5)
            try:
                rate = asyncio.run(collector_rate(broker, payloads, args.batch, args.window))
            finally:
                collector.stop()
        finally:
            broker.stop()
        print(f"collector ingest (broker -> decode -> dedup -> SQLite -> confirm): {rate:,.0f} readings/s")
        print(
            f"ratio to raw SQLite (FULL): {rate / sqlite_rate:.2f}; (NORMAL): {rate / normal:.2f}; "
            f"to raw broker: {rate / mqtt_rate:.2f}"
        )


if __name__ == "__main__":
    main()
