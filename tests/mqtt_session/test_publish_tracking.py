"""QoS-1 publish tracking: one future per message id, resolved by the PUBACK, never left behind."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator

import pytest

from harness.broker import Broker
from mqtt_session import MqttLink, NotConnected
from tests.mqtt_session.session import running, wait_for


def link(broker: Broker) -> MqttLink:
    return MqttLink(client_id="tracked", host=broker.host, port=broker.port)


@pytest.fixture
def frozen(broker: Broker) -> Iterator[Broker]:
    """The broker, to be frozen by the test (SIGSTOP: connected, but no PUBACK comes); thawed after."""
    yield broker
    if broker.proc is not None and broker.proc.poll() is None:
        broker.proc.send_signal(signal.SIGCONT)


def freeze(broker: Broker) -> None:
    assert broker.proc is not None
    broker.proc.send_signal(signal.SIGSTOP)


async def test_the_future_resolves_on_puback(broker: Broker) -> None:
    async with running(link(broker)) as pub:
        waiting = asyncio.create_task(pub.publish_confirmed("t/a", b"1"))
        await asyncio.sleep(0)  # published; the PUBACK is not read yet
        assert pub.awaiting_puback == 1
        await asyncio.wait_for(waiting, 5)
        assert pub.awaiting_puback == 0
        await asyncio.gather(*(pub.publish_confirmed(f"t/{i}", b"x") for i in range(200)))
        assert pub.awaiting_puback == 0


async def test_no_puback_times_out_and_is_forgotten(frozen: Broker) -> None:
    async with running(link(frozen)) as pub:
        freeze(frozen)
        with pytest.raises(TimeoutError):
            await pub.publish_confirmed("t/a", b"1", puback_timeout_s=0.3)
        assert pub.awaiting_puback == 0
        waiting = asyncio.create_task(pub.publish_confirmed("t/b", b"2"))
        await asyncio.sleep(0.1)
        waiting.cancel()  # a caller that gives up
        await asyncio.gather(waiting, return_exceptions=True)
        assert pub.awaiting_puback == 0
        assert frozen.proc is not None
        frozen.proc.send_signal(signal.SIGCONT)


async def test_a_lost_connection_fails_the_waiting_publishes(frozen: Broker) -> None:
    async with running(link(frozen)) as pub:
        freeze(frozen)
        waiting = [asyncio.create_task(pub.publish_confirmed(f"t/{i}", b"x")) for i in range(3)]
        await wait_for(lambda: pub.awaiting_puback == 3)
        assert frozen.proc is not None
        frozen.proc.kill()  # the connection drops with three PUBACKs outstanding
        done, _ = await asyncio.wait(waiting, timeout=5)
        assert len(done) == 3
        assert all(isinstance(t.exception(), NotConnected) for t in waiting)
        assert pub.awaiting_puback == 0
        assert not pub.connected.is_set()
        frozen.stop()
        with pytest.raises(NotConnected):  # not connected: refused at once, nothing to wait for
            await pub.publish_confirmed("t/c", b"y")
        assert pub.awaiting_puback == 0
