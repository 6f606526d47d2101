"""The collector with a real Mosquitto: stored once, confirmed always, acknowledged only after commit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collector.config import CollectorConfig
from collector.sinks import open_sink
from collector.sinks.base import Sink, StoreCounts
from harness.broker import Broker
from harness.sink_wrappers import BlockingSink, FailingSink
from mqtt_session import Backoff
from tests.collector.fake_gateway import FakeGateway
from tests.collector.harness import EPOCH, T0, batch_payload, make_config, readings, running
from wire.confirm import Confirmation


@pytest.fixture
def config(broker: Broker, tmp_path: Path) -> CollectorConfig:
    return make_config(broker.host, broker.port, tmp_path / "store" / "collector.db")


@pytest.fixture
async def gateway(broker: Broker, config: CollectorConfig) -> AsyncIterator[FakeGateway]:
    async with FakeGateway(
        broker.host, broker.port, site="north", gateway="cab-0042", collector_id=config.collector_id
    ) as gw:
        yield gw


async def _open(config: CollectorConfig) -> Sink:
    return await open_sink(config.store.url)


async def _stored(sink: Sink) -> list[float]:
    rows = await sink.query(
        gateway="cab-0042", device="lum-07", point="active_power", since_ms=T0, until_ms=T0 + 10**7, limit=100
    )
    return [float(r.value) for r in rows if isinstance(r.value, float)]


async def test_batch_is_stored_once_and_confirmed_on_every_delivery(
    config: CollectorConfig, gateway: FakeGateway
) -> None:
    sink = await _open(config)
    try:
        async with running(config, sink) as collector:
            await gateway.collector_online()
            gateway.publish(batch_payload(1, readings(3)))
            assert await gateway.confirmation() == Confirmation(EPOCH, stored=(1,))
            assert await _stored(sink) == [40.0, 41.0, 42.0]

            gateway.publish(batch_payload(1, readings(3)))  # a re-send: the confirmation was lost
            assert await gateway.confirmation() == Confirmation(EPOCH, stored=(1,))
            assert await _stored(sink) == [40.0, 41.0, 42.0]
            c = collector.counters
            assert (c.received, c.stored_batches, c.stored_readings, c.duplicates) == (2, 1, 3, 1)
    finally:
        await sink.close()


async def test_duplicate_is_recognised_after_a_collector_restart(
    config: CollectorConfig, gateway: FakeGateway
) -> None:
    sink = await _open(config)
    try:
        async with running(config, sink):
            await gateway.collector_online()
            gateway.publish(batch_payload(5, readings(2)))
            assert await gateway.confirmation() == Confirmation(EPOCH, stored=(5,))
    finally:
        await sink.close()

    sink = await _open(config)
    try:
        async with running(config, sink) as collector:
            await gateway.collector_online()
            gateway.publish(batch_payload(5, readings(2)))
            assert await gateway.confirmation() == Confirmation(EPOCH, stored=(5,))
            assert collector.counters.duplicates == 1
            assert await sink.counts() == StoreCounts(series=1, batches=1, readings=2, quarantined=0)
    finally:
        await sink.close()


async def test_malformed_payload_is_quarantined_and_ingest_goes_on(
    config: CollectorConfig, gateway: FakeGateway
) -> None:
    sink = await _open(config)
    try:
        async with running(config, sink) as collector:
            await gateway.collector_online()
            garbage = b"\xc1 not msgpack"
            gateway.publish(garbage)
            gateway.publish(batch_payload(2, readings(1)))
            # The garbage has no readable key, so only the good batch is confirmed.
            assert await gateway.confirmation() == Confirmation(EPOCH, stored=(2,))
            (q,) = await sink.quarantined(10)
            assert (q.topic, q.gateway, q.size) == (
                "streetgate/v1/north/cab-0042/telemetry",
                "cab-0042",
                len(garbage),
            )
            assert q.reason.startswith("not msgpack")
            assert collector.counters.quarantined == 1
            assert await _stored(sink) == [40.0]
    finally:
        await sink.close()


async def test_quarantined_batch_with_a_readable_key_is_confirmed_as_rejected(
    config: CollectorConfig, gateway: FakeGateway
) -> None:
    bad = readings(2)
    bad[1] = bad[1].__class__(bad[1].device, bad[1].point, 12, 1.0)  # a clock that was never set
    sink = await _open(config)
    try:
        async with running(config, sink):
            await gateway.collector_online()
            gateway.publish(batch_payload(9, bad))
            assert await gateway.confirmation() == Confirmation(EPOCH, rejected=(9,))
            (q,) = await sink.quarantined(10)
            assert q.reason.startswith("r[1][1]: timestamp 12")
            assert await _stored(sink) == []
    finally:
        await sink.close()


async def test_nothing_is_acknowledged_before_the_commit(
    config: CollectorConfig, gateway: FakeGateway
) -> None:
    # The first collector receives the batch but its store never commits: it is stopped meanwhile.
    inner = await _open(config)
    blocking = BlockingSink(inner)
    try:
        async with running(config, blocking, shutdown_grace_s=0.1):
            await gateway.collector_online()
            gateway.publish(batch_payload(3, readings(2)))
            await asyncio.wait_for(blocking.entered.wait(), 5)
    finally:
        await inner.close()
    assert gateway.confirmations.empty()

    # A fresh collector with the same id resumes the persistent session: the broker redelivers.
    sink = await _open(config)
    try:
        async with running(config, sink) as collector:
            assert await gateway.confirmation() == Confirmation(EPOCH, stored=(3,))
            assert await _stored(sink) == [40.0, 41.0]
            assert collector.counters.stored_batches == 1
    finally:
        await sink.close()


async def test_store_failure_is_retried_without_ack_then_stored_once(
    config: CollectorConfig, gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    inner = await _open(config)
    failing = FailingSink(inner, failures=2)
    try:
        async with running(config, failing, retry=Backoff(initial=0.05, cap=0.1)) as collector:
            await gateway.collector_online()
            with caplog.at_level(logging.INFO, logger="collector"):
                gateway.publish(batch_payload(4, readings(2)))
                assert await gateway.confirmation() == Confirmation(EPOCH, stored=(4,))
            assert collector.counters.store_errors == 2
            assert failing.attempts == 3
            assert await _stored(inner) == [40.0, 41.0]
    finally:
        await inner.close()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # logged once, not once per attempt
    assert "disk on fire" in errors[0].getMessage()
    assert any("recovered" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)


async def test_many_batches_from_two_epochs_are_confirmed_per_epoch(
    config: CollectorConfig, gateway: FakeGateway
) -> None:
    other = "0123456789abcdef"
    sink = await _open(config)
    try:
        async with running(config, sink) as collector:
            await gateway.collector_online()
            for seq in range(1, 41):
                gateway.publish(batch_payload(seq, readings(5, t0=T0 + seq * 10_000)))
                gateway.publish(batch_payload(seq, readings(1, t0=T0 + seq * 10_000), epoch=other))
            confirmed: dict[str, set[int]] = {EPOCH: set(), other: set()}
            while sum(map(len, confirmed.values())) < 80:
                c = await gateway.confirmation()
                confirmed[c.epoch].update(c.stored)
            assert confirmed == {EPOCH: set(range(1, 41)), other: set(range(1, 41))}
            assert collector.counters.stored_batches == 80  # counted before confirming
            assert (await sink.counts()).readings == 40 * 6
    finally:
        await sink.close()
