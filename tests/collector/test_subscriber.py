"""The subscriber's queue bound: refuse when full, count it, never block the MQTT callback."""

from __future__ import annotations

from collector.config import BrokerConfig
from collector.ingest.counters import IngestCounters
from collector.ingest.subscriber import Subscriber
from mqtt_session import Message


async def test_full_queue_refuses_and_counts() -> None:
    counters = IngestCounters()
    sub = Subscriber(
        collector_id="c", broker=BrokerConfig(host="127.0.0.1"), site="+", max_queued=3, counters=counters
    )
    assert sub.filter == "streetgate/v1/+/+/telemetry"
    for mid in range(1, 6):
        sub._on_message(Message("streetgate/v1/n/g/telemetry", b"x", 1, mid, 1, False))
    assert (counters.received, counters.overflow, sub.queue.qsize()) == (5, 2, 3)
    assert [sub.queue.get_nowait().mid for _ in range(3)] == [1, 2, 3]  # the oldest are kept
    sub._on_message(Message("streetgate/v1/n/g/telemetry", b"x", 1, 6, 1, False))
    assert (counters.overflow, sub.queue.qsize()) == (2, 1)


def test_shared_subscription_filter() -> None:
    sub = Subscriber(
        collector_id="c",
        broker=BrokerConfig(host="h", share_group="collectors"),
        site="north",
        max_queued=10,
        counters=IngestCounters(),
    )
    assert sub.filter == "$share/collectors/streetgate/v1/north/+/telemetry"
