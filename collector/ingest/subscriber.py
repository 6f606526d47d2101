"""One of the collector's MQTT sessions: batches in, unacknowledged until stored; confirmations out.

The collector runs two (see ``collector/runtime.py``), one per :class:`Lane`: ``live`` subscribes to
``.../telemetry`` (client id ``collector_id``; it also carries confirmations and the collector's
status), ``backlog`` to ``.../telemetry/backlog`` (client id ``<collector_id>-backlog``). Two sessions,
because the broker queues and windows (receive maximum) per session: a burst of backlog then waits in
its own session's queue and never in front of live batches.

Each is a persistent session (``clean_start=False``, session expiry from the config) with manual
acknowledgement: the broker keeps every message the collector has not acknowledged and redelivers it
when the collector comes back, so a crash between receipt and commit loses nothing.

Its lane of the :class:`Inbox` holds at most ``ingest.max_queued_messages`` (live) or
``ingest.max_queued_backlog_messages`` (backlog). The MQTT receive maximum should bound it already, but
Mosquitto 2.0.11 sends another full window after every PUBACK. Policy when full: refuse the message and
count it in ``overflow`` (and ``backlog_overflow`` for the backlog lane). It is acknowledged to the
broker all the same (an unacknowledged message would hold one of the broker's in-flight slots for this
session until the next reconnect, and enough of them wedge delivery), but it is neither stored nor
confirmed: the gateway still holds the batch and re-sends it when its confirmation does not come.
Nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from collector.config import BrokerConfig
from collector.ingest.counters import IngestCounters
from collector.ingest.inbox import Inbox, Lane, Received
from mqtt_session import Message, MqttLink, Will
from wire.topics import subscription

log = logging.getLogger(__name__)


class Subscriber:
    def __init__(
        self,
        *,
        client_id: str,
        broker: BrokerConfig,
        site: str,
        lane: Lane,
        inbox: Inbox,
        receive_maximum: int,
        counters: IngestCounters,
        will: Will | None = None,
        on_subscribed: Callable[[], None] | None = None,
    ) -> None:
        self.lane = lane
        self.filter = subscription(lane.kind, site, broker.share_group)
        self.inbox = inbox
        self._counters = counters
        self._refused = 0  # in the current overflow episode
        self.link = MqttLink(
            client_id=client_id,
            host=broker.host,
            port=broker.port,
            keepalive=broker.keepalive_s,
            will=will,
            clean_start=False,
            session_expiry=broker.session_expiry_s,
            receive_maximum=receive_maximum,
            manual_ack=True,
            on_subscribed=on_subscribed,
        )
        self.link.route(self.filter, self._on_message, qos=1)

    async def run(self) -> None:
        """Stay connected until :meth:`close`."""
        await self.link.run()

    async def close(self, final: tuple[str, bytes] | None = None) -> None:
        await self.link.close(final)

    def _on_message(self, message: Message) -> None:
        counters = self._counters
        counters.received += 1
        if self.lane is Lane.BACKLOG:
            counters.backlog_received += 1
        if not self.inbox.offer(self.lane, Received(message, self.link)):
            counters.overflow += 1
            if self.lane is Lane.BACKLOG:
                counters.backlog_overflow += 1
            self._refused += 1
            (log.warning if self._refused == 1 else log.debug)(
                "%s ingest queue full (%d messages): refusing new ones (not confirmed: the gateways re-send)",
                self.lane,
                self.inbox.bounds[self.lane],
            )
            self.link.ack(message)
            return
        if self._refused:
            log.info(
                "%s ingest queue accepts messages again (%d refused meanwhile)", self.lane, self._refused
            )
            self._refused = 0
