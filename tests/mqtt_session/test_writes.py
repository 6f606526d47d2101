"""The bridge's writes: paho's queued packets leave from one flush per loop turn, and the socket is
watched for writing only while the kernel's send buffer is full."""

from __future__ import annotations

import asyncio
import signal

from harness.broker import Broker
from mqtt_session import Message, MqttLink
from tests.mqtt_session.session import running, wait_for


def link(broker: Broker, client_id: str) -> MqttLink:
    return MqttLink(client_id=client_id, host=broker.host, port=broker.port)


async def test_publishes_of_one_turn_all_leave(broker: Broker) -> None:
    got: list[Message] = []
    sub = link(broker, "sink")
    sub.route("w/#", got.append)
    async with running(sub), running(link(broker, "burst")) as pub:
        await wait_for(sub.subscribed.is_set)
        for i in range(300):  # one loop turn: a single flush writes them all
            pub.publish(f"w/{i}", b"x")
        await wait_for(lambda: len(got) == 300)
        assert pub.awaiting_puback == 0
        await pub.publish_confirmed("w/last", b"y")  # the link still writes after the burst
        await wait_for(lambda: len(got) == 301)


async def test_a_full_send_buffer_is_written_when_it_drains(broker: Broker) -> None:
    """The broker stops reading (SIGSTOP): a 16 MB payload fills the socket's buffers, the rest is
    written once the broker reads again, and later publishes follow it."""
    got: list[Message] = []
    sub = link(broker, "sink")
    sub.route("big/#", got.append)
    big = bytes(range(256)) * (1 << 16)
    async with running(sub), running(link(broker, "big")) as pub:
        await wait_for(sub.subscribed.is_set)
        assert broker.proc is not None
        broker.proc.send_signal(signal.SIGSTOP)
        try:
            pub.publish("big/1", big)
            await asyncio.sleep(0.3)
            assert pub._client.want_write()  # what is left waits for the socket to drain
        finally:
            broker.proc.send_signal(signal.SIGCONT)
        pub.publish("big/2", b"after")
        await wait_for(lambda: len(got) == 2, timeout=20)
    assert [(m.topic, len(m.payload)) for m in got] == [("big/1", len(big)), ("big/2", 5)]
    assert got[0].payload == big
