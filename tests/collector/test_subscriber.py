"""The subscriber's queue bound, through a real broker: refuse when full, count it, acknowledge the refused
message (the gateway re-sends it; the broker must not hold it in flight)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from collector.config import BrokerConfig
from collector.ingest.counters import IngestCounters
from collector.ingest.subscriber import Subscriber
from harness.broker import Broker

TOPIC = "streetgate/v1/n/g/telemetry"


async def wait_for(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def subscriber(broker: Broker, counters: IngestCounters, max_queued: int) -> Subscriber:
    config = BrokerConfig(host=broker.host, port=broker.port, keepalive_s=5, receive_maximum=50)
    return Subscriber(collector_id="c", broker=config, site="n", max_queued=max_queued, counters=counters)


def publish(broker: Broker, payloads: list[bytes]) -> None:
    """A gateway's batches (QoS 1), each acknowledged by the broker before this returns."""
    gateway = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="gw", protocol=mqtt.MQTTv5)
    gateway.connect(broker.host, broker.port)
    gateway.loop_start()
    try:
        for info in [gateway.publish(TOPIC, p, qos=1) for p in payloads]:
            info.wait_for_publish(5)
    finally:
        gateway.disconnect()
        gateway.loop_stop()


async def test_full_queue_refuses_acks_and_counts(broker: Broker) -> None:
    """Through a real broker: 10 batches, room for 3. The 7 refused are counted and acknowledged (the
    broker does not redeliver them); the 3 queued, never acknowledged, come again on reconnect."""
    counters = IngestCounters()
    sub = subscriber(broker, counters, max_queued=3)
    assert sub.filter == "streetgate/v1/n/+/telemetry"
    task = asyncio.create_task(sub.run())
    try:
        await wait_for(sub.link.connected.is_set, "the subscriber to connect")
        await asyncio.to_thread(publish, broker, [f"b{i}".encode() for i in range(10)])
        await wait_for(lambda: counters.received == 10, "the 10 messages to arrive")
        assert (counters.overflow, sub.queue.qsize()) == (7, 3)
        assert [sub.queue.get_nowait().payload for _ in range(3)] == [b"b0", b"b1", b"b2"]  # oldest kept
    finally:
        await sub.close()  # the persistent session stays at the broker, with what was not acknowledged
        await asyncio.gather(task, return_exceptions=True)

    again = IngestCounters()
    sub = subscriber(broker, again, max_queued=20)
    task = asyncio.create_task(sub.run())
    try:
        await wait_for(sub.link.connected.is_set, "the subscriber to connect again")
        # The broker resends a session's unacknowledged messages before anything new: once a fresh
        # message has arrived, every redelivery has.
        await asyncio.to_thread(publish, broker, [b"after"])
        await wait_for(lambda: again.received >= 4, "the 3 redelivered and the fresh message")
        delivered = [sub.queue.get_nowait().payload for _ in range(sub.queue.qsize())]
        assert delivered == [b"b0", b"b1", b"b2", b"after"]  # never b3..b9: those were acknowledged
        assert again.overflow == 0
    finally:
        await sub.close()
        await asyncio.gather(task, return_exceptions=True)


def test_shared_subscription_filter() -> None:
    sub = Subscriber(
        collector_id="c",
        broker=BrokerConfig(host="h", share_group="collectors"),
        site="north",
        max_queued=10,
        counters=IngestCounters(),
    )
    assert sub.filter == "$share/collectors/streetgate/v1/north/+/telemetry"
