"""The uplink against a real Mosquitto: batches leave the buffer only on the collector's confirmation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from edge_agent.buffer.store import Buffer
from edge_agent.clock import SystemClock
from edge_agent.config.model import UplinkConfig
from edge_agent.counters import Counter
from edge_agent.uplink.publisher import ConfirmationQueuePolicy, Publisher
from edge_agent.uplink.topics import UplinkTopics
from harness.broker import Broker
from mqtt_session import Message, MqttLink
from wire import topics
from wire.confirm import Confirmation, decode_confirmation, encode_confirmation
from wire.points import Reading
from wire.telemetry import TelemetryBatch, decode_batch

SITE, GW = "test", "gw-1"
TELEMETRY = topics.topic(SITE, GW, topics.TopicKind.TELEMETRY)
BACKLOG = topics.topic(SITE, GW, topics.TopicKind.BACKLOG)
CONFIRM = topics.topic(SITE, GW, topics.TopicKind.CONFIRM)


async def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def counted(buf: Buffer, counter: Counter, n: int, timeout: float = 10.0) -> None:
    """Wait until the buffer's ``counter`` is ``n``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (await buf.stats()).counters[counter] != n:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{counter} is not {n} in time")
        await asyncio.sleep(0.02)


class FakeCollector:
    """Receives batches; confirms them only when told to (``confirming``)."""

    def __init__(self, broker: Broker, *, routed: bool = True) -> None:
        self.received: list[TelemetryBatch] = []
        self.payloads: list[bytes] = []
        self.topics: dict[int, list[str]] = {}  # seq -> the topic of each delivery, in order
        self.confirming = True
        self.reject: set[int] = set()
        self.link = MqttLink(client_id="fake-collector", host=broker.host, port=broker.port)
        if routed:  # else the test routes the telemetry itself
            self.link.route(TELEMETRY, self.on_message)
            self.link.route(BACKLOG, self.on_message)

    def on_message(self, msg: Message) -> None:
        batch = decode_batch(msg.payload)
        self.received.append(batch)
        self.payloads.append(msg.payload)
        self.topics.setdefault(batch.key.seq, []).append(msg.topic)
        if self.confirming:
            seq = batch.key.seq
            conf = Confirmation(
                batch.key.epoch, () if seq in self.reject else (seq,), (seq,) if seq in self.reject else ()
            )
            self.link.publish(CONFIRM, encode_confirmation(conf))

    async def confirm_all(self) -> None:
        """Confirm every batch received so far (those it held back while not ``confirming``)."""
        for batch in self.received:
            conf = Confirmation(batch.key.epoch, (batch.key.seq,), ())
            self.link.publish(CONFIRM, encode_confirmation(conf))


@contextlib.asynccontextmanager
async def running(*coros: Callable[[], Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(c()) for c in coros]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def make_agent_side(
    broker: Broker, buf: Buffer, on_confirm: Callable[[Message], None] | None = None, **cfg: float | bool
) -> tuple[MqttLink, Publisher]:
    """The agent's end: a link and a publisher; confirmations go to ``on_confirm`` (the publisher's)."""
    link = MqttLink(client_id="gw-1", host=broker.host, port=broker.port)
    settings: dict[str, float | bool] = {
        "batch_max_readings": 100,
        "batch_linger_s": 0.05,
        "confirm_timeout_s": 1.0,
        "in_flight_batches": 4,
    }
    config = UplinkConfig.model_validate({**settings, **cfg})
    pub = Publisher(
        buffer=buf, link=link, topics=UplinkTopics.of(SITE, GW, config), config=config, clock=SystemClock()
    )
    link.route(CONFIRM, on_confirm or pub.on_confirm_message)
    return link, pub


def batch_of(n: int, start: int = 0) -> list[Reading]:
    return [Reading("lum-00", "level", 1_767_225_600_000 + start + i, start + i) for i in range(n)]


@pytest.fixture
async def buf(tmp_path: Path) -> AsyncIterator[Buffer]:
    b = await Buffer.open(
        tmp_path / "b.db", gateway=GW, clock=SystemClock(), commit_interval_s=0.01, batch_readings=100
    )
    yield b
    await b.close()


async def test_confirmed_batches_leave_the_buffer(broker: Broker, buf: Buffer) -> None:
    collector = FakeCollector(broker)
    link, pub = make_agent_side(broker, buf)
    async with running(collector.link.run, link.run, pub.run):
        await collector.link.subscribed.wait()
        await buf.append(batch_of(250))
        await counted(buf, Counter.CONFIRMED, 250)
        assert (await buf.stats()).sealed_batches == 0
        got = [int(r.value) for b in collector.received for r in b.readings if isinstance(r.value, int)]
        assert sorted(got) == list(range(250))
        assert all(len(b.readings) <= 100 for b in collector.received)


async def test_puback_without_confirmation_keeps_batches_and_resends(broker: Broker, buf: Buffer) -> None:
    collector = FakeCollector(broker)
    collector.confirming = False  # the broker acknowledges (PUBACK), nobody confirms
    link, pub = make_agent_side(broker, buf)
    async with running(collector.link.run, link.run, pub.run):
        await collector.link.subscribed.wait()
        await buf.append(batch_of(50))
        await wait_for(lambda: len(collector.received) >= 2, timeout=5)  # sent, then re-sent after 1 s
        stats = await buf.stats()
        assert stats.sealed_readings == 50
        assert pub.counters[Counter.BATCHES_RESENT] >= 1
        first, again = collector.received[0], collector.received[1]
        assert first.key == again.key
        assert first.readings == again.readings
        collector.confirming = True
        await counted(buf, Counter.CONFIRMED, 50, timeout=5)
        assert (await buf.stats()).sealed_batches == 0


async def test_rejected_batch_is_dead_lettered(broker: Broker, buf: Buffer) -> None:
    collector = FakeCollector(broker)
    collector.reject = {1}
    link, pub = make_agent_side(broker, buf)
    async with running(collector.link.run, link.run, pub.run):
        await collector.link.subscribed.wait()
        await buf.append(batch_of(10))
        await counted(buf, Counter.REJECTED, 10)
        stats = await buf.stats()
        assert stats.sealed_batches == 0
        assert stats.counters[Counter.REJECTED] == 10


async def test_broker_restart_resumes_within_two_seconds(broker: Broker, buf: Buffer) -> None:
    collector = FakeCollector(broker)
    link, pub = make_agent_side(broker, buf)
    async with running(collector.link.run, link.run, pub.run):
        await collector.link.subscribed.wait()
        await link.subscribed.wait()
        broker.stop()
        await wait_for(lambda: not link.connected.is_set())
        await buf.append(batch_of(30))
        await asyncio.sleep(3)  # the agent keeps retrying while the broker is down
        sent_before = pub.counters[Counter.BATCHES_SENT] + pub.counters[Counter.BATCHES_RESENT]
        await asyncio.to_thread(broker.start)
        back = asyncio.get_running_loop().time()
        # "goes out": published by the agent (whether the collector is back yet is its own business)
        await wait_for(
            lambda: pub.counters[Counter.BATCHES_SENT] + pub.counters[Counter.BATCHES_RESENT] > sent_before,
            timeout=5,
        )
        assert asyncio.get_running_loop().time() - back < 2.0
        await counted(buf, Counter.CONFIRMED, 30)


async def test_live_first_after_an_outage(broker: Broker, buf: Buffer) -> None:
    """100,000 readings of backlog, a slow collector: fresh readings are stored within 5 s all the same."""
    collector = FakeCollector(broker, routed=False)
    loop = asyncio.get_running_loop()

    def slow_confirm(msg: Message) -> None:  # each confirmation takes 0.5 s (a busy store)
        batch = decode_batch(msg.payload)
        collector.received.append(batch)
        conf = encode_confirmation(Confirmation(batch.key.epoch, (batch.key.seq,)))
        loop.call_later(0.5, lambda: collector.link.publish(CONFIRM, conf))

    collector.link.route(TELEMETRY, slow_confirm)
    collector.link.route(BACKLOG, slow_confirm)
    base = 1_767_225_600_000
    for chunk in range(100):  # the backlog, committed while the uplink was down
        await buf.append(
            [Reading(f"lum-{i % 50:02d}", "power", base + chunk * 1000 + i, float(i)) for i in range(1000)]
        )
    confirmed_at: dict[int, float] = {}  # seq -> when its confirmation reached the agent

    def on_confirm(msg: Message) -> None:
        confirmed_at.update(dict.fromkeys(decode_confirmation(msg.payload).stored, loop.time()))
        pub.on_confirm_message(msg)

    link, pub = make_agent_side(
        broker, buf, on_confirm, batch_max_readings=1000, in_flight_batches=4, confirm_timeout_s=30
    )
    async with running(collector.link.run, link.run, pub.run):
        await collector.link.subscribed.wait()
        await link.subscribed.wait()
        await wait_for(lambda: len(collector.received) >= 4)  # the backlog fills the window first
        t0 = loop.time()
        fresh = Reading("lum-07", "level", base + 10_000_000, 42)
        await buf.append([fresh])

        def fresh_seq() -> int | None:
            """The seq of the batch that carries the fresh reading (by its device, point, ts and value)."""
            return next((b.key.seq for b in collector.received if fresh in b.readings), None)

        # The deadline is well past the bound asserted below: a late confirmation fails on the bound.
        await wait_for(lambda: (seq := fresh_seq()) is not None and seq in confirmed_at, timeout=60)
        seq = fresh_seq()
        assert seq is not None
        latency = confirmed_at[seq] - t0
        assert latency < 5, f"the fresh reading was confirmed {latency:.1f} s after it was committed"
        for _ in range(500):  # and it left the buffer (the uplink applies the confirmation soon after)
            if seq not in {b.key.seq for b in await buf.sealed()}:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError(f"batch {seq} confirmed but still sealed in the buffer")
        stats = await buf.stats()
        assert stats.unsealed + stats.sealed_readings > 50_000  # the backlog is still draining behind it
        # The backlog goes oldest first: per series, timestamps only grow across the batches sent so far.
        seen: dict[str, int] = {}
        for b in collector.received:
            for r in b.readings:
                if r.point == "power":
                    assert r.ts_ms > seen.get(r.device, 0)
                    seen[r.device] = r.ts_ms


async def test_a_full_confirmation_queue_drops_the_newest_counted_and_nothing_is_lost(
    broker: Broker, buf: Buffer
) -> None:
    """The bound: confirmations past ``max_queued_confirmations`` are dropped (DROP_NEWEST) and counted;
    their batches stay sealed, are re-sent after ``confirm_timeout_s`` and confirmed again."""
    collector = FakeCollector(broker)
    link, pub = make_agent_side(broker, buf, max_queued_confirmations=2, batch_max_readings=10)
    assert pub.queue_policy is ConfirmationQueuePolicy.DROP_NEWEST
    buf.online = True  # each commit's chunk is a unit of its own
    for i in range(5):
        await buf.append(batch_of(10, start=10 * i))
    sealed = await buf.sealed()
    assert [b.readings for b in sealed] == [10] * 5
    for batch in sealed:  # five confirmations arrive before the uplink applies any
        conf = Confirmation(batch.key.epoch, (batch.key.seq,))
        pub.on_confirm_message(Message(CONFIRM, encode_confirmation(conf), 1, 0, 0, False))
    assert pub.counters[Counter.CONFIRMATIONS_DROPPED_QUEUE_FULL] == 3
    async with running(collector.link.run, link.run, pub.run):
        await collector.link.subscribed.wait()
        await counted(buf, Counter.CONFIRMED, 50)  # the two kept, then the three re-sent and confirmed
    assert (await buf.stats()).sealed_batches == 0


async def _deliveries_by_topic(
    broker: Broker, buf: Buffer, *, backlog_topic: bool = True
) -> tuple[dict[int, list[str]], int]:
    """300 readings of backlog (in the buffer before the uplink connects), then 20 fresh ones whose first
    delivery the collector does not confirm (so they are re-sent). The topics each batch came on, by
    seq, and the seq of the fresh batch."""
    await buf.append(batch_of(300))  # the backlog: one group (the link was down)
    collector = FakeCollector(broker)
    link, pub = make_agent_side(broker, buf, backlog_topic=backlog_topic)
    async with running(collector.link.run):
        await collector.link.subscribed.wait()
        async with running(link.run, pub.run):
            await counted(buf, Counter.CONFIRMED, 300)
            collector.confirming = False  # the fresh batch's first delivery goes unconfirmed ...
            await buf.append(batch_of(20, start=300))
            await wait_for(lambda: fresh_seq(collector) is not None)
            collector.confirming = True  # ... and its re-send (after confirm_timeout_s) is confirmed
            await counted(buf, Counter.CONFIRMED, 320)
    seq = fresh_seq(collector)
    assert seq is not None
    return collector.topics, seq


def fresh_seq(collector: FakeCollector) -> int | None:
    """The seq of the batch that carries the 20 fresh readings (values 300..319), if it came."""
    for b in collector.received:
        values = [int(r.value) for r in b.readings if isinstance(r.value, int)]
        if values and values[0] >= 300:
            assert values == list(range(300, 320)), values  # in one batch
            return b.key.seq
    return None


async def test_backlog_and_resends_go_on_the_backlog_topic_fresh_batches_on_telemetry(
    broker: Broker, buf: Buffer
) -> None:
    """What the buffer held when the connection came up goes on .../telemetry/backlog; a fresh batch on
    .../telemetry, and its re-send (its confirmation overdue) on .../telemetry/backlog."""
    by_seq, fresh = await _deliveries_by_topic(broker, buf)
    backlog = set(by_seq) - {fresh}
    assert backlog
    for seq in backlog:
        assert set(by_seq[seq]) == {BACKLOG}, (seq, by_seq[seq])
    assert by_seq[fresh][:2] == [TELEMETRY, BACKLOG]  # sent live, re-sent as backlog
    assert set(by_seq[fresh][2:]) <= {BACKLOG}


async def test_backlog_topic_off_puts_everything_on_telemetry(broker: Broker, buf: Buffer) -> None:
    """``uplink.backlog_topic: false`` (a collector older than the backlog topic): one topic for all."""
    by_seq, fresh = await _deliveries_by_topic(broker, buf, backlog_topic=False)
    assert len(by_seq) >= 2
    assert {t for topics_of in by_seq.values() for t in topics_of} == {TELEMETRY}
    assert len(by_seq[fresh]) >= 2  # re-sent, on telemetry too
