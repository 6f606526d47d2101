"""Send the outbox's messages as soon as the link is up; retire them only on the collector's confirmation.

Its own supervised task, apart from the telemetry uplink: on every (re)connection every pending message is
published at once, so results and events go out ahead of a telemetry backlog that the uplink drains
batch by batch in its window. A message unconfirmed after ``outbox.confirm_timeout_s`` is re-sent with the
same key and bytes; the collector recognises the key and confirms again.

Confirmations come on ``.../outbox/confirm`` (:mod:`wire.confirm`, under the outbox's epoch): ``ok``
deletes the messages, ``rej`` dead-letters them (kept in the outbox file, counted). They are applied by the
task, not in the link's callback (that runs on the loop and must not wait for the disk). At most
:data:`MAX_QUEUED_CONFIRMATIONS` wait; past it the newest is dropped (counted as
``outbox_confirmations_dropped_queue_full_total``): its messages are re-sent and confirmed again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from edge_agent.clock import Clock
from edge_agent.counters import OUTBOX_SENDER, Counter, Counts
from edge_agent.outbox.store import Outbox
from edge_agent.uplink.waiting import wait_for_work
from mqtt_session import Message, MqttLink, NotConnected
from wire.confirm import Confirmation, decode_confirmation
from wire.errors import PayloadError
from wire.topics import TopicKind

log = logging.getLogger(__name__)
MAX_QUEUED_CONFIRMATIONS = 1000


class OutboxSender:
    def __init__(
        self,
        *,
        outbox: Outbox,
        link: MqttLink,
        topic_of: Callable[[TopicKind], str],
        confirm_timeout_s: float,
        clock: Clock,
        on_confirmed: Callable[[Confirmation], None] | None = None,
    ) -> None:
        self._outbox = outbox
        self._link = link
        self._topic_of = topic_of
        self._timeout_s = confirm_timeout_s
        self._clock = clock
        self._on_confirmed = on_confirmed  # after a confirmation was applied (tests watch it)
        self._in_flight: dict[int, float] = {}  # seq -> monotonic time sent
        self._highest_sent = 0
        self._generation = -1
        self._confirmations: list[Confirmation] = []  # received, not yet applied
        self._wake = asyncio.Event()
        outbox.listeners.append(self._wake)
        self.counters = Counts(OUTBOX_SENDER)
        self.last_confirm_ms: int | None = None

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def on_confirm_message(self, msg: Message) -> None:
        """The link's route for ``.../outbox/confirm`` (on the loop: queue it, wake the task)."""
        try:
            conf = decode_confirmation(msg.payload)
        except PayloadError as exc:
            self.counters.add(Counter.OUTBOX_CONFIRMATIONS_MALFORMED)
            log.warning("ignored a malformed outbox confirmation on %s: %s", msg.topic, exc)
            return
        if conf.epoch != self._outbox.epoch:
            log.debug("ignored an outbox confirmation for epoch %s (not ours)", conf.epoch)
            return
        if len(self._confirmations) >= MAX_QUEUED_CONFIRMATIONS:
            self.counters.add(Counter.OUTBOX_CONFIRMATIONS_DROPPED_QUEUE_FULL)
            log.debug(
                "%d outbox confirmations wait: dropped one; its messages are re-sent",
                MAX_QUEUED_CONFIRMATIONS,
            )
            return
        self._confirmations.append(conf)
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._link.connected.wait()
            if self._link.generation != self._generation:
                self._generation = self._link.generation
                self._in_flight.clear()  # a new connection: everything unconfirmed is due again
            self._wake.clear()
            await self._apply_confirmations()
            try:
                await self._send_due()
            except NotConnected:
                continue
            await wait_for_work(self._wake, self._link.disconnected, self._next_deadline())

    def _next_deadline(self) -> float:
        now = self._clock.monotonic()
        deadlines = [t + self._timeout_s - now for t in self._in_flight.values()]
        return max(0.01, min(deadlines, default=5.0))

    async def _apply_confirmations(self) -> None:
        while self._confirmations:
            conf = self._confirmations.pop(0)
            if conf.stored:
                await self._outbox.ack(conf.stored)
                self.last_confirm_ms = self._clock.now_ms()
            if conf.conflicts:
                log.error(
                    "the collector holds other content under outbox keys %s of epoch %s (key re-used)",
                    list(conf.conflicts),
                    conf.epoch,
                )
            if conf.rejected:
                await self._outbox.reject(conf.rejected, "quarantined by the collector")
            for seq in (*conf.stored, *conf.rejected):
                self._in_flight.pop(seq, None)
            if self._on_confirmed is not None:
                self._on_confirmed(conf)

    async def _send_due(self) -> None:
        now = self._clock.monotonic()
        due = [s for s, sent in self._in_flight.items() if now - sent >= self._timeout_s]
        if self._in_flight and not due and self._outbox.depth <= len(self._in_flight):
            return  # everything pending is in flight and not yet overdue: no need to read the file
        for message in await self._outbox.pending():
            seq = message.key.seq
            sent = self._in_flight.get(seq)
            if sent is not None and now - sent < self._timeout_s:
                continue
            self._link.publish(self._topic_of(message.topic_kind), message.payload, qos=1)
            self._in_flight[seq] = self._clock.monotonic()
            if seq <= self._highest_sent:
                self.counters.add(Counter.OUTBOX_RESENT)
            else:
                self._highest_sent = seq
                self.counters.add(Counter.OUTBOX_SENT)
