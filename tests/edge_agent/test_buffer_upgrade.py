"""A gateway in the field upgrades in place: the buffer file its old agent wrote is delivered, nothing lost
and nothing sent twice, and its dead letter stays for the technician.

``fixtures/buffer_schema1.db`` was written by the buffer of the first schema (``make_buffer_schema1.py``
says how, ``buffer_schema1.json`` what it holds): a confirmed batch (gone, its key used), two sealed
batches never confirmed, a dead-lettered batch and readings never sealed. The agent's uplink and a real
collector (SQLite store) run against a real Mosquitto until the buffer is empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
import subprocess
from collections import Counter as Multiset
from pathlib import Path
from typing import Any

from collector.sinks import open_sink
from edge_agent.buffer.database import SCHEMA_VERSION
from edge_agent.buffer.keys import Keys
from edge_agent.buffer.store import Buffer
from edge_agent.clock import SystemClock
from edge_agent.config.model import UplinkConfig
from edge_agent.counters import Counter
from edge_agent.uplink.publisher import Publisher
from edge_agent.uplink.topics import UplinkTopics
from harness.broker import Broker
from harness.stack import BIN
from mqtt_session import MqttLink
from tests.collector.harness import make_config, running
from tests.edge_agent.units import sendable
from wire import topics
from wire.points import Quality, Reading
from wire.telemetry import BatchKey, TelemetryBatch, decode_batch, encode_batch

FIXTURES = Path(__file__).parent / "fixtures"
SITE = "test"

Key = tuple[str, str, int]  # device, point, ts_ms


def as_readings(rows: list[dict[str, Any]]) -> tuple[Reading, ...]:
    return tuple(
        Reading(r["device"], r["point"], r["ts_ms"], r["value"], Quality[r["quality"]], r["reason"])
        for r in rows
    )


def keys(readings: list[dict[str, Any]]) -> list[Key]:
    return [(r["device"], r["point"], r["ts_ms"]) for r in readings]


def stored_rows(store: Path, gateway: str) -> list[tuple[str, str, int, str, int]]:
    """(device, point, ts_ms, epoch, seq) of every reading the store holds from ``gateway``."""
    with sqlite3.connect(store) as db:
        return list(
            db.execute(
                "SELECT s.device, s.point, r.ts_ms, b.epoch, b.seq FROM readings r "
                "JOIN series s ON s.id = r.series_id JOIN batches b ON b.id = r.batch_id "
                "WHERE s.gateway = ?",
                (gateway,),
            )
        )


def buffer_cli(tmp_path: Path, buffer: Path) -> dict[str, Any]:
    """What ``edge-agent buffer --format json`` says of the file (the technician's view)."""
    config = tmp_path / "agent.yaml"
    config.write_text(
        f"gateway: cab-old\nsite: {SITE}\nbroker: {{host: 127.0.0.1, port: 1883}}\n"
        f"buffer: {{path: {buffer}}}\nstatus_socket: {tmp_path / 'agent.sock'}\n"
        "buses:\n  - {name: line, kind: modbus_tcp, host: 127.0.0.1, port: 1502,\n"
        "     devices: [{name: m1, unit: 1, points: [{name: p, table: holding, register: 0}]}]}\n"
    )
    done = subprocess.run(
        [str(BIN / "edge-agent"), "buffer", "--config", str(config), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_the_fixture_holds_what_its_manifest_says(tmp_path: Path) -> None:
    """Pins the fixture: if the file and its manifest disagree, the upgrade test below proves nothing."""
    manifest = json.loads((FIXTURES / "buffer_schema1.json").read_text())
    path = tmp_path / "buffer.db"
    shutil.copy(FIXTURES / "buffer_schema1.db", path)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()[0] == manifest["epoch"]
        assert db.execute("SELECT COUNT(*) FROM readings").fetchone()[0] == len(manifest["unsent"])
        sealed = dict(db.execute("SELECT seq, readings FROM batches"))
        dead = dict(db.execute("SELECT seq, readings FROM dead_letter"))
    assert sealed == {int(s): len(r) for s, r in manifest["sealed_unconfirmed"].items()}
    assert dead == {int(s): len(r) for s, r in manifest["dead_letter"].items()}
    assert len(manifest["unsent"]) > 0
    assert len(manifest["confirmed"]) > 0


async def test_an_old_buffer_file_is_delivered_once_after_the_upgrade(broker: Broker, tmp_path: Path) -> None:
    manifest = json.loads((FIXTURES / "buffer_schema1.json").read_text())
    gateway, epoch = manifest["gateway"], manifest["epoch"]
    path = tmp_path / "buffer.db"
    shutil.copy(FIXTURES / "buffer_schema1.db", path)
    store = tmp_path / "store.db"
    config = make_config(broker.host, broker.port, store)
    sink = await open_sink(config.store.url)
    for seq, rows in manifest["confirmed"].items():  # what the store got before the upgrade
        await sink.write([TelemetryBatch(BatchKey(gateway, epoch, int(seq)), as_readings(rows))])
    buf = await Buffer.open(path, gateway=gateway, clock=SystemClock(), commit_interval_s=0.01)
    link = MqttLink(client_id=gateway, host=broker.host, port=broker.port)
    uplink = UplinkConfig.model_validate({"batch_linger_s": 0.05, "confirm_timeout_s": 2.0})
    pub = Publisher(
        buffer=buf,
        link=link,
        topics=UplinkTopics.of(SITE, gateway, uplink),
        config=uplink,
        clock=SystemClock(),
    )
    link.route(topics.topic(SITE, gateway, topics.TopicKind.CONFIRM), pub.on_confirm_message)
    try:
        async with running(config, sink):
            tasks = [asyncio.create_task(link.run()), asyncio.create_task(pub.run())]
            try:
                async with asyncio.timeout(30):
                    while True:
                        stats = await buf.stats()
                        if stats.unsealed == 0 and stats.sealed_batches == 0:
                            break
                        await asyncio.sleep(0.05)
            finally:
                await link.close()
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await buf.close()
        await sink.close()

    rows = stored_rows(store, gateway)
    sealed = manifest["sealed_unconfirmed"]
    before = [k for readings in manifest["confirmed"].values() for k in keys(readings)]
    expected = before + [k for readings in sealed.values() for k in keys(readings)] + keys(manifest["unsent"])
    got = [(d, p, t) for d, p, t, _, _ in rows]
    assert Multiset(got) == Multiset(expected)  # every reading once: none lost, none twice
    by_key = {(d, p, t): (e, s) for d, p, t, e, s in rows}
    for seq, readings in sealed.items():  # a sealed batch keeps its key: the collector may hold it already
        assert {by_key[k] for k in keys(readings)} == {(epoch, int(seq))}
    used = {int(s) for part in ("confirmed", "sealed_unconfirmed", "dead_letter") for s in manifest[part]}
    new_keys = {by_key[k] for k in keys(manifest["unsent"])}
    assert all(e != epoch or s > max(used) for e, s in new_keys), f"a key was used again: {new_keys}"

    view = buffer_cli(tmp_path, path)  # the dead letter stays, for `edge-agent buffer` and the technician
    assert view["dead_letter_batches"] == len(manifest["dead_letter"])
    assert view["unsealed_readings"] == 0
    assert view["unconfirmed_batches"] == 0


async def test_an_old_file_gets_a_key_reserve_past_every_key_it_used(tmp_path: Path) -> None:
    """Schema 1 kept ``next_seq``; the upgrade puts the readings never sent in a closed group under it
    (their first key: nothing skipped, nothing re-used), makes ``seq_reserved`` the highest key the
    agent may have used, and the agent reserves a block past it before it sends anything."""
    manifest = json.loads((FIXTURES / "buffer_schema1.json").read_text())
    gateway, epoch = manifest["gateway"], manifest["epoch"]
    path = tmp_path / "buffer.db"
    shutil.copy(FIXTURES / "buffer_schema1.db", path)
    with sqlite3.connect(path) as db:
        next_seq = int(db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()[0])
    used = max(int(s) for part in ("confirmed", "sealed_unconfirmed", "dead_letter") for s in manifest[part])
    assert next_seq == used + 1
    buf = await Buffer.open(path, gateway=gateway, clock=SystemClock(), commit_interval_s=0.01)
    try:
        assert buf.unsealed == 0  # every reading is in a closed unit: sendable at once
        units = await buf.sealed()
    finally:
        await buf.close()
    sealed = manifest["sealed_unconfirmed"]
    assert [u.key.seq for u in units] == [*sorted(int(s) for s in sealed), next_seq]
    unsent = units[-1]
    assert unsent.key == BatchKey(gateway, epoch, next_seq)
    assert decode_batch(unsent.payload).readings == as_readings(manifest["unsent"])
    with sqlite3.connect(path) as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        tables = {t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert meta["schema"] == str(SCHEMA_VERSION)
    assert "next_seq" not in meta
    assert meta["open_group"] == "0"
    assert int(meta["seq_reserved"]) == next_seq + Keys.BLOCK  # reserved at open, before anything was sent
    assert not tables & {"readings", "batches", "series"}
    again = await Buffer.open(path, gateway=gateway, clock=SystemClock(), commit_interval_s=0.01)
    try:
        await again.append([Reading("m1", "p", 1_767_225_600_000, 1.5)])
        after = (await sendable(again))[-1]
    finally:
        await again.close()
    assert after.key.seq == next_seq + Keys.BLOCK + 1  # a restart starts past the reserve


def schema2_file(path: Path, *, reserved: int, live: tuple[int, list[Reading]], more: int) -> None:
    """A buffer file of schema 2, by hand: the schema-1 fixture with ``meta.schema = 2`` and
    ``meta.seq_reserved`` (keys reserved in blocks: a fresh batch may have gone out under any key up to
    it, unwritten) instead of ``next_seq``, a fresh batch that was written under its key (``live``), and
    ``more`` readings never sealed after the fixture's."""
    shutil.copy(FIXTURES / "buffer_schema1.db", path)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        epoch = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()[0]
        gateway = "cab-old"
        db.execute("DELETE FROM meta WHERE key = 'next_seq'")
        db.execute("INSERT INTO meta VALUES ('schema', '2'), ('seq_reserved', ?)", (str(reserved),))
        seq, readings = live
        db.execute(
            "INSERT INTO batches VALUES (?, ?, ?, ?, ?)",
            (
                seq,
                T1,
                len(readings),
                min(r.ts_ms for r in readings),
                encode_batch(BatchKey(gateway, epoch, seq), readings),
            ),
        )
        (series,) = db.execute(
            "INSERT INTO series (device, point) VALUES ('lum-09', 'power') RETURNING id"
        ).fetchone()
        db.executemany(
            "INSERT INTO readings (series, ts, value, is_bool, quality, reason) VALUES (?, ?, ?, 0, 0, NULL)",
            [(series, T1 + i, i / 4) for i in range(more)],
        )


T1 = 1_767_225_700_000


async def test_a_schema_2_file_is_upgraded_with_nothing_lost_and_no_key_used_again(tmp_path: Path) -> None:
    """Schema 2 reserved keys in blocks: a fresh batch may have left under any key up to
    ``seq_reserved`` without being written. The upgrade keeps every batch under its key and bytes and
    puts the readings never sealed, in their order, in closed groups of 1,000 under keys past the
    reserve; the dead letter and the counters stay."""
    manifest = json.loads((FIXTURES / "buffer_schema1.json").read_text())
    gateway, epoch = manifest["gateway"], manifest["epoch"]
    reserved = 4 + Keys.BLOCK  # the fixture's keys used, and the block a schema-2 agent reserved past them
    live = (reserved - 7, [Reading("lum-09", "power", T1 - 10 + i, float(i)) for i in range(3)])
    path = tmp_path / "buffer.db"
    schema2_file(path, reserved=reserved, live=live, more=2500)
    with contextlib.closing(sqlite3.connect(path)) as db:
        old_batches = dict(db.execute("SELECT seq, payload FROM batches").fetchall())
        old_dead = db.execute("SELECT * FROM dead_letter").fetchall()
        old_counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
    assert sorted(old_batches) == [2, 4, live[0]]

    buf = await Buffer.open(path, gateway=gateway, clock=SystemClock(), commit_interval_s=0.01)
    try:
        units = await buf.sealed()
        stats = await buf.stats()
    finally:
        await buf.close()
    by_key = {u.key.seq: u for u in units}
    assert all(u.key == BatchKey(gateway, epoch, u.key.seq) for u in units)
    # Every batch the old file held keeps its key and its bytes: the collector may hold it already.
    assert {k: by_key[k].payload for k in old_batches} == old_batches
    # The readings never sealed: past the reserve (no key that may have left is used again), in order.
    new = [u for u in units if u.key.seq not in old_batches]
    assert [(u.key.seq, u.readings) for u in new] == [
        (reserved + 1, 1000),
        (reserved + 2, 1000),
        (reserved + 3, 507),
    ]
    more = [Reading("lum-09", "power", T1 + i, i / 4) for i in range(2500)]
    got = [r for u in new for r in decode_batch(u.payload).readings]
    assert got == [*as_readings(manifest["unsent"]), *more]  # nothing lost, nothing twice
    assert stats.unsealed == 0
    assert stats.sealed_readings == 8 + 8 + 3 + 7 + 2500
    counters = {str(k): v for k, v in stats.counters.items()}
    assert counters[str(Counter.COMMITTED)] == old_counters[str(Counter.COMMITTED)]  # as written by hand
    assert counters[str(Counter.SEALED)] == old_counters[str(Counter.SEALED)] + 7 + 2500
    assert counters[str(Counter.CONFIRMED)] == old_counters[str(Counter.CONFIRMED)]
    assert counters[str(Counter.REJECTED)] == old_counters[str(Counter.REJECTED)]
    with contextlib.closing(sqlite3.connect(path)) as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        assert db.execute("SELECT * FROM dead_letter").fetchall() == old_dead
    assert meta["schema"] == str(SCHEMA_VERSION)
    assert int(meta["seq_reserved"]) == reserved + 3 + Keys.BLOCK
