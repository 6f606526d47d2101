"""A confirmation naming a conflict (``cf``): the batch is dead-lettered like any rejected one, and the
agent says at ERROR that the collector holds other content under its key."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from edge_agent.buffer.store import Buffer
from edge_agent.clock import SystemClock
from edge_agent.counters import Counter
from harness.broker import Broker
from mqtt_session import Message, MqttLink
from tests.edge_agent.test_publisher import (
    BACKLOG,
    CONFIRM,
    GW,
    TELEMETRY,
    batch_of,
    make_agent_side,
    running,
    wait_for,
)
from wire.confirm import Confirmation, encode_confirmation
from wire.telemetry import decode_batch


async def test_a_conflict_is_dead_lettered_and_logged(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    buf = await Buffer.open(tmp_path / "b.db", gateway=GW, clock=SystemClock(), commit_interval_s=0.01)
    collector: MqttLink

    def confirm_as_conflict(msg: Message) -> None:
        key = decode_batch(msg.payload).key
        conf = Confirmation(key.epoch, rejected=(key.seq,), conflicts=(key.seq,))
        collector.publish(CONFIRM, encode_confirmation(conf))

    collector = MqttLink(
        client_id="fake-collector",
        host=broker.host,
        port=broker.port,
    )
    collector.route(TELEMETRY, confirm_as_conflict)
    collector.route(BACKLOG, confirm_as_conflict)  # a batch sealed before the agent connected is backlog
    link, pub = make_agent_side(broker, buf)
    caplog.set_level(logging.ERROR, logger="edge_agent.uplink.publisher")
    try:
        async with running(collector.run, link.run, pub.run):
            await asyncio.wait_for(asyncio.gather(collector.subscribed.wait(), link.subscribed.wait()), 5)
            await buf.append(batch_of(10))
            await wait_for(lambda: pub.counters[Counter.BATCHES_REJECTED] == 1)
            stats = await buf.stats()
            assert (stats.sealed_batches, stats.counters[Counter.REJECTED]) == (0, 10)
        (record,) = [r for r in caplog.records if "key re-used" in r.getMessage()]
        assert "[1]" in record.getMessage()
    finally:
        await buf.close()
