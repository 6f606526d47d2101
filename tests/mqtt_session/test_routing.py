"""Routing against a real Mosquitto: a handler per topic filter on one session."""

from __future__ import annotations

import asyncio

import pytest

from harness.broker import Broker
from mqtt_session import Message, MqttLink
from tests.mqtt_session.session import running, wait_for


def link(broker: Broker, client_id: str, **options: int | bool) -> MqttLink:
    return MqttLink(client_id=client_id, host=broker.host, port=broker.port, **options)  # type: ignore[arg-type]


async def test_two_filters_two_handlers_on_one_session(broker: Broker) -> None:
    temps: list[str] = []
    hums: list[str] = []
    sub = link(broker, "routed")
    sub.route("site/+/temp", lambda m: temps.append(m.topic))
    sub.route("site/+/hum", lambda m: hums.append(m.topic))
    async with running(sub), running(link(broker, "publisher")) as pub:
        for topic in ("site/1/temp", "site/2/hum", "site/3/temp", "site/4/wind"):
            await pub.publish_confirmed(topic, b"x")
        await wait_for(lambda: len(temps) + len(hums) == 3)
        late: list[Message] = []
        sub.route("site/#", late.append)  # routed after connecting: subscribed at once
        await asyncio.sleep(0.2)  # the SUBACK
        await pub.publish_confirmed("site/5/hum", b"y")
        await wait_for(lambda: len(late) == 1 and len(hums) == 2)
    assert temps == ["site/1/temp", "site/3/temp"]
    assert hums == ["site/2/hum", "site/5/hum"]
    assert [m.payload for m in late] == [b"y"]
    assert sub.router.unrouted == 0


async def test_a_message_no_route_matches_is_counted(broker: Broker) -> None:
    """A persistent session keeps the subscriptions of an earlier run; this run routes only one of them:
    the other's messages are counted and dropped, and the session carries on."""
    first = link(broker, "resumer", clean_start=False, session_expiry=60)
    first.route("old/topic", lambda m: None)
    first.route("kept/topic", lambda m: None)
    async with running(first):
        pass
    kept: list[bytes] = []
    second = link(broker, "resumer", clean_start=False, session_expiry=60)
    second.route("kept/topic", lambda m: kept.append(m.payload))
    async with running(second), running(link(broker, "publisher")) as pub:
        assert second.session_resumed
        await pub.publish_confirmed("old/topic", b"stale")
        await pub.publish_confirmed("kept/topic", b"fresh")
        await wait_for(lambda: kept == [b"fresh"])
        assert second.router.unrouted == 1
        assert second.connected.is_set()


async def test_a_failing_handler_is_counted_and_the_others_carry_on(broker: Broker) -> None:
    got: list[bytes] = []

    def broken(m: Message) -> None:
        raise RuntimeError("a bug in a handler")

    sub = link(broker, "sub")
    sub.route("a/broken", broken)
    sub.route("a/fine", lambda m: got.append(m.payload))
    async with running(sub), running(link(broker, "publisher")) as pub:
        await pub.publish_confirmed("a/broken", b"1")
        await pub.publish_confirmed("a/fine", b"2")
        await wait_for(lambda: got == [b"2"])
    assert sub.router.handler_errors == 1


async def test_shared_subscription_routes_by_the_filter_after_the_prefix(broker: Broker) -> None:
    got: list[str] = []
    sub = link(broker, "member-1")
    sub.route("$share/collectors/streetgate/v1/+/+/telemetry", lambda m: got.append(m.topic))
    async with running(sub), running(link(broker, "gateway")) as pub:
        await pub.publish_confirmed("streetgate/v1/north/cab-1/telemetry", b"batch")
        await pub.publish_confirmed("streetgate/v1/north/cab-1/status", b"not this")
        await wait_for(lambda: got == ["streetgate/v1/north/cab-1/telemetry"])
        await asyncio.sleep(0.2)
    assert sub.router.unrouted == 0


def test_one_handler_per_filter() -> None:
    sub = MqttLink(client_id="x", host="127.0.0.1", port=1)
    sub.route("a/+", lambda m: None)
    with pytest.raises(ValueError, match="has a route already"):
        sub.route("a/+", lambda m: None)
    with pytest.raises(ValueError, match="'#' must be alone"):
        sub.route("a/#/b", lambda m: None)


async def test_subscribed_once_every_suback_came(broker: Broker) -> None:
    """``subscribed`` (and ``on_subscribed``) means the broker acknowledged every route of this connection:
    a message published right after it is delivered, with no wait."""
    calls: list[int] = []
    got: list[bytes] = []
    sub = MqttLink(
        client_id="acked",
        host=broker.host,
        port=broker.port,
        on_subscribed=lambda: calls.append(sub.generation),
    )
    sub.route("a/+", lambda m: got.append(m.payload))
    sub.route("b/+", lambda m: got.append(m.payload))
    async with running(sub), running(link(broker, "publisher")) as pub:
        await asyncio.wait_for(sub.subscribed.wait(), 5)
        assert sub.router.pending == 0
        assert calls == [1]
        await pub.publish_confirmed("b/1", b"first")
        await wait_for(lambda: got == [b"first"])
        sub.route("c/+", lambda m: got.append(m.payload))  # a new route: subscribed again on its SUBACK
        assert not sub.subscribed.is_set()
        await asyncio.wait_for(sub.subscribed.wait(), 5)
        await pub.publish_confirmed("c/1", b"second")
        await wait_for(lambda: got == [b"first", b"second"])
    assert not sub.subscribed.is_set()
    assert calls == [1, 1]
