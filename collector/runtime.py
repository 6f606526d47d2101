"""Builds the collector from its config, runs it, and owns shutdown.

Two MQTT sessions, supervised in one task group with the writer: ``live`` (``.../telemetry``, client id
``collector_id``; it carries the confirmations and the retained status, whose last will it holds) and
``backlog`` (``.../telemetry/backlog``, client id ``<collector_id>-backlog``). Both feed one
:class:`Inbox`, from which the writer takes live messages first. ``online`` is announced once both
sessions are connected and subscribed (the broker acknowledged both subscriptions), again on every
reconnect of either.

Shutdown (stop event, SIGTERM/SIGINT or cancellation): the writer finishes the commit in progress and
settles it (acks, confirmations) within ``shutdown_grace_s``, otherwise it is abandoned unacknowledged
and the broker redelivers it to the next run; then the retained status says ``offline`` and both MQTT
sessions are closed (the broker keeps them, with anything unacknowledged, for ``session_expiry_s``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable

from collector.config import CollectorConfig
from collector.ingest.counters import IngestCounters
from collector.ingest.inbox import Inbox, Lane
from collector.ingest.outbox import OutboxIngest
from collector.ingest.subscriber import Subscriber
from collector.ingest.writer import Writer
from collector.sinks import open_sink
from collector.sinks.base import Sink
from collector.status import CollectorStatus, package_version
from mqtt_session import Backoff, MqttLink, NotConnected
from wire.status import LinkState

log = logging.getLogger(__name__)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class CollectorRuntime:
    """The running collector: MQTT session, writer and status, around a sink its caller opened."""

    def __init__(
        self,
        config: CollectorConfig,
        sink: Sink,
        *,
        shutdown_grace_s: float = 10.0,
        retry: Backoff | None = None,
        now_ms: Callable[[], int] = _wall_ms,
    ) -> None:
        self.config = config
        self.counters = IngestCounters()
        self._grace = shutdown_grace_s
        self._now_ms = now_ms
        self._status = CollectorStatus(config.collector_id, package_version())
        ingest, broker = config.ingest, config.broker
        self.inbox = Inbox(
            {Lane.LIVE: ingest.max_queued_messages, Lane.BACKLOG: ingest.max_queued_backlog_messages}
        )
        self._subscriber = Subscriber(
            client_id=config.collector_id,
            broker=broker,
            site=config.subscription.site,
            lane=Lane.LIVE,
            inbox=self.inbox,
            receive_maximum=broker.receive_maximum,
            counters=self.counters,
            will=self._status.will(),
            on_subscribed=self._announce,
        )
        self._backlog = Subscriber(
            client_id=config.backlog_client_id,
            broker=broker,
            site=config.subscription.site,
            lane=Lane.BACKLOG,
            inbox=self.inbox,
            receive_maximum=broker.backlog_receive_maximum,
            counters=self.counters,
            on_subscribed=self._announce,
        )
        self._writer = Writer(
            inbox=self.inbox,
            confirm_link=self._subscriber.link,
            sink=sink,
            counters=self.counters,
            max_messages=ingest.max_messages_per_commit,
            max_payload_bytes=ingest.max_payload_bytes,
            retry=retry,
        )
        self._outbox = OutboxIngest(  # results and events: a queue and a writer of their own
            link=self._subscriber.link,
            sink=sink,
            store_url=config.store.store_url,
            counters=self.counters,
            site=config.subscription.site,
            share_group=config.broker.share_group,
            max_queued=config.ingest.max_queued_messages,
            max_messages=config.ingest.max_messages_per_commit,
            max_payload_bytes=config.ingest.max_payload_bytes,
            retry=retry,
            rings=(
                None
                if config.commands is None
                else {gw: keys.key_ring() for gw, keys in config.commands.gateways.items()}
            ),
        )

    @property
    def links(self) -> tuple[MqttLink, MqttLink]:
        """The live session's link and the backlog session's."""
        return self._subscriber.link, self._backlog.link

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set (then return) or the task is cancelled (then re-raise)."""
        cfg = self.config
        log.info(
            "collector %s starting: broker %s:%d, subscriptions %s and %s, store %s",
            cfg.collector_id,
            cfg.broker.host,
            cfg.broker.port,
            self._subscriber.filter,
            self._backlog.filter,
            cfg.store.url,
        )
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._subscriber.run(), name="collector-mqtt")
            tg.create_task(self._backlog.run(), name="collector-mqtt-backlog")
            writer = tg.create_task(self._writer.run(), name="collector-writer")
            outbox = tg.create_task(self._outbox.run(), name="collector-outbox")
            try:
                await (stop or asyncio.Event()).wait()
            finally:
                await self._shutdown(writer, outbox)

    async def _shutdown(self, writer: asyncio.Task[None], outbox: asyncio.Task[None]) -> None:
        self._writer.stop()
        self._outbox.stop()
        _, pending = await asyncio.wait({writer, outbox}, timeout=self._grace)
        if outbox in pending:  # its commit is abandoned unacknowledged: the broker redelivers it
            outbox.cancel()
            await asyncio.wait({outbox})
        if writer in pending:
            log.warning(
                "commit in progress did not finish within %.1f s: abandoned unacknowledged, "
                "the broker redelivers it",
                self._grace,
            )
            writer.cancel()
            await asyncio.wait({writer})
        offline = self._status.payload(LinkState.OFFLINE, self._now_ms())
        await self._backlog.close()
        await self._subscriber.close(final=(self._status.topic, offline))
        log.info("collector %s stopped: %s", self.config.collector_id, self.counters)

    def _announce(self) -> None:
        """``online`` once both sessions are subscribed (each calls this on every connect, once the broker
        acknowledged its subscription)."""
        if not all(link.subscribed.is_set() for link in self.links):
            return
        try:
            self._subscriber.link.publish(
                self._status.topic, self._status.payload(LinkState.ONLINE, self._now_ms()), retain=True
            )
        except NotConnected as exc:  # lost again already; the next connect announces
            log.debug("status not published: %s", exc)


async def serve(config: CollectorConfig, sink: Sink | None = None) -> None:
    """``collector run``: open the store (or take ``sink``), run until SIGTERM or SIGINT, shut down
    cleanly, close the store."""
    if sink is None:
        sink = await open_sink(config.store.store_url)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        await CollectorRuntime(config, sink).run(stop)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await sink.close()
