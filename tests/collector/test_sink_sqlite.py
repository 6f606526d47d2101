"""One contract suite for every sink (only SQLite so far): idempotent, transactional, type-preserving."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from collector.errors import StoreError
from collector.sinks import open_sink
from collector.sinks.base import Sink, StoreCounts, WriteOutcome
from collector.sinks.sqlite_schema import OUTBOX_TABLE, SCHEMA, SCHEMA_VERSION
from tests.collector.harness import EPOCH, T0, mixed_readings, readings
from wire.points import Quality, Reading
from wire.telemetry import BatchKey, TelemetryBatch

Opener = Callable[[], Awaitable[Sink]]
STORED, DUPLICATE, CONFLICT = WriteOutcome.STORED, WriteOutcome.DUPLICATE, WriteOutcome.CONFLICT


def batch(seq: int, rows: list[Reading], gateway: str = "cab-0042", epoch: str = EPOCH) -> TelemetryBatch:
    return TelemetryBatch(BatchKey(gateway, epoch, seq), tuple(rows))


@pytest.fixture(params=["sqlite"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens (or re-opens) one store; each test gets a fresh, empty one."""
    url = {"sqlite": f"sqlite:///{tmp_path}/store/collector.db"}[request.param]

    async def opener() -> Sink:
        return await open_sink(url)

    return opener


@pytest.fixture
async def sink(open_store: Opener) -> AsyncIterator[Sink]:
    s = await open_store()
    try:
        yield s
    finally:
        await s.close()


async def _series(sink: Sink, point: str = "active_power", **kw: Any) -> list[Any]:
    args: dict[str, Any] = {"gateway": None, "device": "lum-07", "point": point}
    args.update({"since_ms": T0 - 10**9, "until_ms": T0 + 10**9, "limit": 1000})
    args.update(kw)
    return list(await sink.query(**args))


class TestSinkContract:
    async def test_round_trip_keeps_values_and_their_types(self, sink: Sink) -> None:
        sent = mixed_readings()
        assert await sink.write([batch(1, sent)]) == [STORED]
        for r in sent:
            (got,) = await _series(sink, r.point)
            assert (got.gateway, got.device, got.point, got.ts_ms) == ("cab-0042", r.device, r.point, r.ts_ms)
            assert (got.value, type(got.value)) == (r.value, type(r.value))
            assert (got.quality, got.reason) == (r.quality, r.reason)
        (bad,) = await _series(sink, "lamp")
        assert bad.quality is Quality.BAD

    async def test_same_batch_twice_is_a_duplicate_stored_once(self, sink: Sink) -> None:
        b = batch(1, readings(5))
        assert await sink.write([b]) == [STORED]
        assert await sink.write([b]) == [DUPLICATE]
        assert len(await _series(sink)) == 5
        assert await sink.counts() == StoreCounts(series=1, batches=1, readings=5, quarantined=0)

    async def test_duplicate_within_one_write(self, sink: Sink) -> None:
        b = batch(1, readings(3))
        assert await sink.write([b, batch(2, readings(1, t0=T0 + 10**6)), b]) == [STORED, STORED, DUPLICATE]
        assert len(await _series(sink)) == 4

    async def test_duplicate_is_recognised_after_reopening(self, open_store: Opener) -> None:
        first = await open_store()
        try:
            assert await first.write([batch(7, readings(4))]) == [STORED]
        finally:
            await first.close()
        again = await open_store()
        try:
            assert await again.write([batch(7, readings(4)), batch(8, readings(1))]) == [DUPLICATE, STORED]
            assert len(await _series(again)) == 5
        finally:
            await again.close()

    async def test_two_sinks_on_one_store_agree_on_duplicates(self, open_store: Opener) -> None:
        a, b = await open_store(), await open_store()
        try:
            outcomes = [*await a.write([batch(1, readings(2))]), *await b.write([batch(1, readings(2))])]
            assert outcomes == [STORED, DUPLICATE]
            assert len(await _series(b)) == 2
        finally:
            await a.close()
            await b.close()

    async def test_key_is_gateway_epoch_and_seq(self, sink: Sink) -> None:
        rows = readings(1)
        outcomes = await sink.write(
            [batch(1, rows), batch(1, rows, gateway="cab-0043"), batch(1, rows, epoch="0" * 16)]
        )
        assert outcomes == [STORED, STORED, STORED]

    async def test_same_series_and_ts_in_different_batches_are_both_kept(self, sink: Sink) -> None:
        # A gateway clock stepping back may produce this: it is two readings, not one.
        await sink.write([batch(1, [Reading("lum-07", "active_power", T0, 1.0)])])
        await sink.write([batch(2, [Reading("lum-07", "active_power", T0, 2.0)])])
        assert [r.value for r in await _series(sink)] == [1.0, 2.0]

    async def test_query_range_gateway_and_limit(self, sink: Sink) -> None:
        await sink.write([batch(1, readings(10)), batch(1, readings(3), gateway="cab-0099")])
        in_range = await _series(sink, since_ms=T0 + 2000, until_ms=T0 + 5000, gateway="cab-0042")
        assert [r.ts_ms - T0 for r in in_range] == [2000, 3000, 4000]  # since inclusive, until exclusive
        assert len(await _series(sink)) == 13
        assert {r.gateway for r in await _series(sink, gateway="cab-0099")} == {"cab-0099"}
        assert [r.ts_ms - T0 for r in await _series(sink, limit=2)] == [0, 0]
        assert await _series(sink, point="nope") == []

    async def test_failed_write_stores_nothing_of_the_transaction(self, sink: Sink) -> None:
        poison = Reading("lum-07", "active_power", T0, [1, 2])  # type: ignore[arg-type]  # no Reading may carry it: the write fails
        with pytest.raises(StoreError):
            await sink.write([batch(1, readings(2)), batch(2, [poison])])
        assert await sink.counts() == StoreCounts(series=0, batches=0, readings=0, quarantined=0)
        assert await sink.write([batch(1, readings(2))]) == [STORED]  # and the sink still works
        assert len(await _series(sink)) == 2

    async def test_quarantine_is_kept_with_its_reason(self, sink: Sink) -> None:
        topic = "streetgate/v1/north/cab-0042/telemetry"
        await sink.quarantine(topic, b"\xc1garbage", "not msgpack: unpack failed", "cab-0042")
        await sink.quarantine(topic, b"", "empty", None)
        newest, oldest = await sink.quarantined(10)
        assert (newest.topic, newest.gateway, newest.size, newest.reason) == (topic, None, 0, "empty")
        assert (oldest.gateway, oldest.size, oldest.reason) == ("cab-0042", 8, "not msgpack: unpack failed")
        assert len(await sink.quarantined(1)) == 1
        assert (await sink.counts()).quarantined == 2

    async def test_re_used_key_with_other_content_is_a_conflict(self, open_store: Opener) -> None:
        first = await open_store()
        try:
            assert await first.write([batch(3, readings(2))]) == [STORED]
        finally:
            await first.close()
        again = await open_store()  # the digest is in the store, not in a cache
        try:
            other = readings(2)
            other[1] = Reading("lum-07", "active_power", other[1].ts_ms, 99.0)
            assert await again.write([batch(3, other), batch(3, readings(2))]) == [CONFLICT, DUPLICATE]
            assert [r.value for r in await _series(again)] == [40.0, 41.0]  # the first content stays
        finally:
            await again.close()

    async def test_conflict_within_one_write(self, sink: Sink) -> None:
        one, other = batch(1, readings(2)), batch(1, readings(3))
        assert await sink.write([one, other, one]) == [STORED, CONFLICT, DUPLICATE]
        assert len(await _series(sink)) == 2


async def test_opening_without_create_refuses_a_missing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store at"):
        await open_sink(f"sqlite:///{tmp_path}/missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


async def test_opening_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "other.db").write_bytes(b"")
    with pytest.raises(StoreError, match="no collector schema"):
        await open_sink(f"sqlite:///{tmp_path}/other.db", create=False)


async def test_sqlite_schema_is_per_series_rows_with_a_time_index(tmp_path: Path) -> None:
    sink = await open_sink(f"sqlite:///{tmp_path}/c.db")
    await sink.write([batch(1, readings(2))])
    await sink.close()
    with contextlib.closing(sqlite3.connect(tmp_path / "c.db")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        indexes = {row[1]: row[2] for row in db.execute("SELECT type, name, tbl_name FROM sqlite_master")}
        assert indexes["readings_series_ts"] == "readings"
        cols = [row[0] for row in db.execute("SELECT name FROM pragma_index_info('readings_series_ts')")]
        assert cols == ["series_id", "ts_ms"]
        (series,) = db.execute("SELECT gateway, device, point FROM series").fetchall()
        assert series == ("cab-0042", "lum-07", "active_power")
        rows = db.execute(
            "SELECT ts_ms, value_num, value_text, quality FROM readings ORDER BY ts_ms"
        ).fetchall()
        assert rows == [(T0, 40.0, None, 0), (T0 + 1000, 41.0, None, 0)]


async def test_a_version_1_store_gets_the_digest_column_at_open(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    v1_schema = SCHEMA.replace(
        "    digest BLOB,  -- NULL only for batches stored by a version-1 store\n", ""
    ).replace(f"{OUTBOX_TABLE};", "")
    assert v1_schema != SCHEMA
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(f"{v1_schema} PRAGMA user_version = 1;")
        db.execute("INSERT INTO batches VALUES (1, 'cab-0042', ?, 4, 2, ?)", (EPOCH, T0))
        db.commit()
    url = f"sqlite:///{path}"
    opened = await asyncio.gather(open_sink(url), open_sink(url), return_exceptions=True)  # one migrates
    sinks = [s for s in opened if not isinstance(s, BaseException)]
    for s in sinks[1:] if len(sinks) == 2 else sinks:
        await s.close()
    if len(sinks) != 2:
        pytest.fail(f"a collector could not open the store: {opened}")
    sink = sinks[0]
    try:  # a batch stored before has no digest: a re-send is a duplicate, whatever it holds
        assert await sink.write([batch(4, readings(1)), batch(5, readings(1))]) == [DUPLICATE, STORED]
        assert await sink.write([batch(5, readings(2))]) == [CONFLICT]
    finally:
        await sink.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("SELECT count(*) FROM outbox_messages").fetchone() == (0,)
        digests = db.execute("SELECT seq, length(digest) FROM batches ORDER BY seq").fetchall()
        assert digests == [(4, None), (5, 16)]
