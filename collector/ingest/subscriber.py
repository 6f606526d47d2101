"""The collector's MQTT session: telemetry in, unacknowledged until stored; confirmations out.

A persistent session (``clean_start=False``, session expiry from the config) with manual
acknowledgement: the broker keeps every message the collector has not acknowledged and redelivers it
when the collector comes back, so a crash between receipt and commit loses nothing.

The queue to the writer holds at most ``ingest.max_queued_messages``. The MQTT receive maximum should
bound it already, but Mosquitto 2.0.11 sends another full window after every PUBACK. Policy when full:
refuse the message and count it in ``overflow``. It is acknowledged to the broker all the same (an
unacknowledged message would hold one of the broker's in-flight slots for this session until the next
reconnect, and enough of them wedge delivery), but it is neither stored nor confirmed: the gateway still
holds the batch and re-sends it when its confirmation does not come. Nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from collector.config import BrokerConfig
from collector.ingest.counters import IngestCounters
from mqtt_session import Message, MqttLink, Will
from wire.topics import TopicKind, subscription

log = logging.getLogger(__name__)


class Subscriber:
    def __init__(
        self,
        *,
        collector_id: str,
        broker: BrokerConfig,
        site: str,
        max_queued: int,
        counters: IngestCounters,
        will: Will | None = None,
        on_connected: Callable[[], None] | None = None,
    ) -> None:
        self.filter = subscription(TopicKind.TELEMETRY, site, broker.share_group)
        self.queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=max_queued)
        self._counters = counters
        self._refused = 0  # in the current overflow episode
        self.link = MqttLink(
            client_id=collector_id,
            host=broker.host,
            port=broker.port,
            keepalive=broker.keepalive_s,
            will=will,
            clean_start=False,
            session_expiry=broker.session_expiry_s,
            receive_maximum=broker.receive_maximum,
            manual_ack=True,
            on_connected=on_connected,
        )
        self.link.route(self.filter, self._on_message, qos=1)

    async def run(self) -> None:
        """Stay connected until :meth:`close`."""
        await self.link.run()

    async def close(self, final: tuple[str, bytes] | None = None) -> None:
        await self.link.close(final)

    def _on_message(self, message: Message) -> None:
        self._counters.received += 1
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self._counters.overflow += 1
            self._refused += 1
            (log.warning if self._refused == 1 else log.debug)(
                "ingest queue full (%d messages): refusing new ones (not confirmed: the gateways re-send)",
                self.queue.maxsize,
            )
            self.link.ack(message)
            return
        if self._refused:
            log.info("ingest queue accepts messages again (%d refused meanwhile)", self._refused)
            self._refused = 0
