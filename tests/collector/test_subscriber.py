"""The subscriber's queue bound, through a real broker: refuse when full, count it, acknowledge the refused
message (the gateway re-sends it; the broker must not hold it in flight). And the inbox's order: live
first, then backlog."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from collector.config import BrokerConfig
from collector.ingest.counters import IngestCounters
from collector.ingest.inbox import Inbox, Lane, Received
from collector.ingest.subscriber import Subscriber
from harness.broker import Broker
from mqtt_session import Message, MqttLink

TOPIC = "streetgate/v1/n/g/telemetry"


async def wait_for(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def subscriber(broker: Broker, counters: IngestCounters, max_queued: int) -> Subscriber:
    config = BrokerConfig(host=broker.host, port=broker.port, keepalive_s=5, receive_maximum=50)
    return Subscriber(
        client_id="c",
        broker=config,
        site="n",
        lane=Lane.LIVE,
        inbox=Inbox({Lane.LIVE: max_queued, Lane.BACKLOG: 1}),
        receive_maximum=config.receive_maximum,
        counters=counters,
    )


async def queued(sub: Subscriber) -> list[bytes]:
    """Every payload in the subscriber's lane, oldest first (taken out)."""
    taken = await sub.inbox.take(sub.inbox.size(sub.lane), asyncio.Event())
    return [r.message.payload for r in taken]


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
        assert (counters.overflow, sub.inbox.size(Lane.LIVE)) == (7, 3)
        assert await queued(sub) == [b"b0", b"b1", b"b2"]  # oldest kept
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
        delivered = await queued(sub)
        assert delivered == [b"b0", b"b1", b"b2", b"after"]  # never b3..b9: those were acknowledged
        assert again.overflow == 0
    finally:
        await sub.close()
        await asyncio.gather(task, return_exceptions=True)


def test_shared_subscriptions_for_both_sessions() -> None:
    config = BrokerConfig(host="h", share_group="collectors")
    inbox = Inbox({Lane.LIVE: 10, Lane.BACKLOG: 10})
    live, backlog = (
        Subscriber(
            client_id=f"c-{lane}",
            broker=config,
            site="north",
            lane=lane,
            inbox=inbox,
            receive_maximum=10,
            counters=IngestCounters(),
        )
        for lane in Lane
    )
    assert live.filter == "$share/collectors/streetgate/v1/north/+/telemetry"
    assert backlog.filter == "$share/collectors/streetgate/v1/north/+/telemetry/backlog"


async def test_a_commit_takes_live_messages_first_then_backlog_each_oldest_first() -> None:
    link = MqttLink(client_id="unconnected", host="127.0.0.1", port=1)
    inbox = Inbox({Lane.LIVE: 5, Lane.BACKLOG: 5})

    def offer(lane: Lane, name: str) -> bool:
        return inbox.offer(lane, Received(Message(name, b"", 1, 0, 0, False), link))

    assert [offer(Lane.BACKLOG, f"b{i}") for i in range(5)] == [True] * 5
    assert not offer(Lane.BACKLOG, "b5")  # the backlog lane is full ...
    assert offer(Lane.LIVE, "l0")  # ... the live lane is not
    assert offer(Lane.LIVE, "l1")
    never = asyncio.Event()
    assert [r.message.topic for r in await inbox.take(3, never)] == ["l0", "l1", "b0"]
    assert offer(Lane.LIVE, "l2")
    assert [r.message.topic for r in await inbox.take(10, never)] == ["l2", "b1", "b2", "b3", "b4"]
    stopping = asyncio.Event()
    stopping.set()
    assert await inbox.take(10, stopping) == []  # empty and stopping: nothing to wait for


async def test_take_waits_for_the_first_message() -> None:
    link = MqttLink(client_id="unconnected", host="127.0.0.1", port=1)
    inbox = Inbox({Lane.LIVE: 5, Lane.BACKLOG: 5})
    taker = asyncio.create_task(inbox.take(10, asyncio.Event()))
    await asyncio.sleep(0)
    assert not taker.done()
    inbox.offer(Lane.BACKLOG, Received(Message("b0", b"", 1, 0, 0, False), link))
    assert [r.message.topic for r in await asyncio.wait_for(taker, 5)] == ["b0"]
