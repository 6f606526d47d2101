"""A batch key re-used with other content, through a real Mosquitto and the real collector: quarantined,
counted and confirmed as a conflict; an identical re-send is still a duplicate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collector.config import CollectorConfig
from collector.sinks import open_sink
from harness.broker import Broker
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


async def test_re_used_key_is_quarantined_counted_and_confirmed_as_a_conflict(
    config: CollectorConfig, gateway: FakeGateway
) -> None:
    sink = await open_sink(config.store.url)
    try:
        async with running(config, sink) as collector:
            await gateway.collector_online()
            gateway.publish(batch_payload(1, readings(3)))
            assert await gateway.confirmation() == Confirmation(EPOCH, stored=(1,))

            other = batch_payload(1, readings(2, t0=T0 + 60_000))  # same key, other readings
            gateway.publish(other)
            assert await gateway.confirmation() == Confirmation(EPOCH, rejected=(1,), conflicts=(1,))

            gateway.publish(batch_payload(1, readings(3)))  # the original again: a plain duplicate
            assert await gateway.confirmation() == Confirmation(EPOCH, stored=(1,))

            c = collector.counters
            assert (c.stored_batches, c.duplicates, c.conflicts, c.quarantined) == (1, 1, 1, 1)
            (q,) = await sink.quarantined(10)
            assert (q.gateway, q.size) == ("cab-0042", len(other))
            assert q.reason == (
                f"sq: batch key (cab-0042, {EPOCH}, 1) re-used: the store holds other content under it "
                "(conflict)"
            )
            rows = await sink.query(
                gateway="cab-0042",
                device="lum-07",
                point="active_power",
                since_ms=T0,
                until_ms=T0 + 10**7,
                limit=10,
            )
            assert [r.value for r in rows] == [40.0, 41.0, 42.0]  # the first content, untouched
    finally:
        await sink.close()
