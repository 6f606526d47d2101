"""Live before backlog, across the city: one gateway's 100,000-reading backlog does not hold another
gateway's live batch behind it — not in the broker (the backlog has its own MQTT session) and not in the
collector (a commit takes live messages first).

Gateway B's backlog (100 batches of 1,000 readings) is at the broker before gateway A's one live batch
is published; when A's confirmation arrives, most of B's backlog must still be unstored. The negative
control puts B's backlog on the telemetry topic, as an agent with ``uplink.backlog_topic: false`` does:
then A waits behind all of it (one session, first in first out), and the same measure sees that.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collector.config import CollectorConfig
from collector.runtime import CollectorRuntime
from collector.sinks import open_sink
from collector.sinks.base import Sink
from harness.broker import Broker
from tests.collector.fake_gateway import FakeGateway
from tests.collector.harness import EPOCH, T0, batch_payload, make_config, readings, running
from wire.confirm import Confirmation
from wire.topics import TopicKind

BATCHES, PER_BATCH = 100, 1000
BACKLOG_READINGS = BATCHES * PER_BATCH
# A's confirmation must come while B has stored less than half its backlog. With priority it comes
# after a few commits of 4 batches each (a few thousand readings of B); without, after all 100,000.
BOUND = BACKLOG_READINGS // 2


@pytest.fixture
def config(broker: Broker, tmp_path: Path) -> CollectorConfig:
    # Small commits (4 messages of 1,000 readings): the backlog takes many cycles to store, and a live
    # message is taken at the next one.
    return make_config(
        broker.host,
        broker.port,
        tmp_path / "store" / "collector.db",
        ingest={"max_messages_per_commit": 4},
        broker={"host": broker.host, "port": broker.port, "keepalive_s": 10, "backlog_receive_maximum": 50},
    )


@pytest.fixture
async def sink(config: CollectorConfig) -> AsyncIterator[Sink]:
    s = await open_sink(config.store.url)
    yield s
    await s.close()


async def b_stored_when_a_is_confirmed(
    broker: Broker, config: CollectorConfig, sink: Sink, backlog_kind: TopicKind
) -> tuple[int, CollectorRuntime]:
    """B's readings in the store when A's live batch is confirmed; B's backlog on ``backlog_kind``."""
    a = FakeGateway(broker.host, broker.port, site="north", gateway="cab-a", collector_id=config.collector_id)
    b = FakeGateway(broker.host, broker.port, site="north", gateway="cab-b", collector_id=config.collector_id)
    backlog = [
        batch_payload(seq, readings(PER_BATCH, t0=T0 + seq * 10**6), gateway="cab-b")
        for seq in range(1, BATCHES + 1)
    ]
    async with running(config, sink) as collector, a, b:
        await a.collector_online()  # both sessions subscribed
        # The whole backlog at the broker (each PUBACKed) before A publishes.
        await asyncio.gather(*(b.publish_confirmed(p, kind=backlog_kind) for p in backlog))
        a.publish(batch_payload(1, readings(3), gateway="cab-a"), kind=TopicKind.TELEMETRY)
        assert await a.confirmation(timeout=120) == Confirmation(EPOCH, stored=(1,))
        b_stored = collector.counters.stored_readings - 3
        # Nothing is lost behind it: the whole backlog is confirmed (so stored) in the end.
        confirmed: set[int] = set()
        while len(confirmed) < BATCHES:
            confirmed.update((await b.confirmation(timeout=120)).stored)
        assert confirmed == set(range(1, BATCHES + 1))
        assert collector.counters.stored_readings == BACKLOG_READINGS + 3
        return b_stored, collector


async def test_live_readings_stored_ahead_of_a_100000_reading_backlog_from_another_gateway(
    broker: Broker, config: CollectorConfig, sink: Sink
) -> None:
    b_stored, collector = await b_stored_when_a_is_confirmed(broker, config, sink, TopicKind.BACKLOG)
    print(f"B's readings stored when A's live batch was confirmed: {b_stored} of {BACKLOG_READINGS}")
    assert b_stored < BOUND, f"A's live batch waited behind {b_stored} readings of B's backlog"
    assert collector.counters.backlog_received >= BATCHES
    assert collector.counters.overflow == 0


async def test_negative_control_backlog_on_the_telemetry_topic_holds_live_behind_it(
    broker: Broker, config: CollectorConfig, sink: Sink
) -> None:
    """The same measure, B's backlog on .../telemetry (one session with A's live batch): A is stored
    after all of it. Were this not seen, the test above could not see anything either."""
    b_stored, collector = await b_stored_when_a_is_confirmed(broker, config, sink, TopicKind.TELEMETRY)
    print(f"negative control: B's readings stored when A's live batch was confirmed: {b_stored}")
    assert b_stored >= BOUND
    assert collector.counters.backlog_received == 0
