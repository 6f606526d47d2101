"""Publish batches within an in-flight window; retire them only on the collector's confirmation.

On every (re)connection every unconfirmed batch is due again (the broker may have lost it), then new
batches are sealed as readings arrive: a full batch at once, a partial one after ``batch_linger_s``.
A batch unconfirmed after ``confirm_timeout_s`` is re-sent with the same key and bytes; the collector
recognises it and confirms again.

Confirmations wait in a bounded queue (``max_queued_confirmations``) until the uplink applies them to
the buffer. Past the bound the newest is dropped (:attr:`ConfirmationQueuePolicy.DROP_NEWEST`,
counted as ``confirmations_dropped_queue_full_total``, logged once at WARNING): nothing is lost, its
batches stay sealed, are re-sent after ``confirm_timeout_s`` and confirmed again.

Send before the card: while the window has room, readings still waiting for their group commit leave
at once, in a batch under a key from the reserved block (:meth:`Buffer.take_fresh`); the commit writes
that batch, not their rows. When the window is full (or the link down) they are committed as rows and
sealed as before: batches grow only under load.

Live first: what was in the buffer when the connection came up is the backlog. Fresh readings (those
committed since) take the first free slot of the window; the backlog drains behind them in full
batches, oldest first, as fast as confirmations free slots. Each part keeps its series in order.

Fresh batches go on the live topic (``.../telemetry``), the backlog and every re-send on the backlog
topic (``.../telemetry/backlog``, :class:`UplinkTopics`), so that a collector can take the live ones
first across all gateways (docs/protocol.md). With ``uplink.backlog_topic: false`` both are one topic.
"""

from __future__ import annotations

import asyncio
import logging
from enum import StrEnum
from typing import Protocol

from edge_agent.buffer.store import Buffer, SealedBatch
from edge_agent.clock import Clock
from edge_agent.config.model import UplinkConfig
from edge_agent.counters import UPLINK, Counter, Counts
from edge_agent.uplink.topics import UplinkTopics
from edge_agent.uplink.waiting import wait_for_work
from mqtt_session import Message, MqttLink, NotConnected
from wire.confirm import Confirmation, decode_confirmation
from wire.errors import PayloadError

log = logging.getLogger(__name__)


class ConfirmationQueuePolicy(StrEnum):
    """What a full confirmation queue does with one more confirmation."""

    DROP_NEWEST = "drop_newest"  # its batches are re-sent after confirm_timeout_s and confirmed again


class Counted(Protocol):
    """What an observer of the uplink (the health report) reads of it: its counters."""

    @property
    def counters(self) -> Counts: ...


class Publisher:
    def __init__(
        self, *, buffer: Buffer, link: MqttLink, topics: UplinkTopics, config: UplinkConfig, clock: Clock
    ) -> None:
        self._buffer = buffer
        self._link = link
        self._topics = topics
        self._cfg = config
        self._clock = clock
        self._in_flight: dict[int, float] = {}  # seq -> monotonic time sent
        self._highest_sent = 0  # seqs only grow: a seq at or below it was sent before (by this process)
        self._generation = -1
        self._resend_due = True  # sealed batches outside the window must be looked up and sent again
        self._backlog_end: int | None = None  # readings up to this id are the backlog (None: no backlog)
        self._confirmations: asyncio.Queue[Confirmation] = asyncio.Queue(config.max_queued_confirmations)
        self.queue_policy = ConfirmationQueuePolicy.DROP_NEWEST
        self._queue_full_logged = False
        self._wake = asyncio.Event()
        self._last_seal = clock.monotonic()
        self.counters = Counts(UPLINK)
        self.last_confirm_ms: int | None = None
        self.last_confirm_mono: float | None = None  # the same moment on the clock's monotonic scale
        buffer.listeners.append(self._wake.set)
        buffer.fresh_listeners.append(self._wake.set)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def on_confirm_message(self, msg: Message) -> None:
        """The link's route for the confirm topic (runs on the loop)."""
        try:
            conf = decode_confirmation(msg.payload)
        except PayloadError as exc:
            self.counters.add(Counter.CONFIRMATIONS_MALFORMED)
            log.warning("ignored a malformed confirmation on %s: %s", msg.topic, exc)
            return
        if conf.epoch != self._buffer.epoch:
            log.debug(
                "ignored a confirmation for epoch %s (buffer epoch is %s)", conf.epoch, self._buffer.epoch
            )
            return
        try:
            self._confirmations.put_nowait(conf)
        except asyncio.QueueFull:  # DROP_NEWEST: its batches are re-sent and confirmed again
            self.counters.add(Counter.CONFIRMATIONS_DROPPED_QUEUE_FULL)
            (log.debug if self._queue_full_logged else log.warning)(
                "%d confirmations wait to be applied: dropped one (%s); its batches are re-sent",
                self._confirmations.qsize(),
                self.queue_policy,
            )
            self._queue_full_logged = True
        else:
            self._queue_full_logged = False
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._link.connected.wait()
            if self._link.generation != self._generation:
                self._generation = self._link.generation
                self._in_flight.clear()  # a new connection: everything unconfirmed is due again
                self._resend_due = True
                self._backlog_end = await self._buffer.last_id() or None
            # Cleared before the work, not after: readings that arrive while it awaits the buffer wake
            # the next round (they may leave before their commit only if the publisher looks again).
            self._wake.clear()
            await self._apply_confirmations()
            try:
                await self._fill_window()
            except NotConnected:
                continue
            if not self._confirmations.empty():
                continue
            await wait_for_work(self._wake, self._link.disconnected, self._next_deadline())

    def _next_deadline(self) -> float:
        now = self._clock.monotonic()
        deadlines = [t + self._cfg.confirm_timeout_s - now for t in self._in_flight.values()]
        if self._buffer.unsealed:
            deadlines.append(self._last_seal + self._cfg.batch_linger_s - now)
        return max(0.01, min(deadlines, default=5.0))

    async def _apply_confirmations(self) -> None:
        while not self._confirmations.empty():
            conf = self._confirmations.get_nowait()
            if conf.stored:
                n = await self._buffer.ack(conf.stored)
                if n == 0:  # no room to delete them (full disk), or confirmed twice: look again
                    self._resend_due = True
                self.counters.add(
                    Counter.BATCHES_CONFIRMED, sum(1 for s in conf.stored if s in self._in_flight)
                )
                self.last_confirm_ms = self._clock.now_ms()
                self.last_confirm_mono = self._clock.monotonic()
            if conf.conflicts:  # also in conf.rejected: the store has other content under these keys
                log.error(
                    "the collector holds other content under batch keys %s of epoch %s (key re-used): "
                    "dead-lettered here, quarantined there",
                    list(conf.conflicts),
                    conf.epoch,
                )
            if conf.rejected:
                n = await self._buffer.reject(conf.rejected, "quarantined by the collector")
                if n == 0:  # not recorded (full disk): it is re-sent and rejected again
                    self._resend_due = True
                self.counters.add(Counter.BATCHES_REJECTED, len(conf.rejected))
            for seq in (*conf.stored, *conf.rejected):
                self._in_flight.pop(seq, None)

    async def _fill_window(self) -> None:
        now = self._clock.monotonic()
        for seq, sent in list(self._in_flight.items()):
            if now - sent >= self._cfg.confirm_timeout_s:
                del self._in_flight[seq]  # due again
                self._resend_due = True
        room = self._cfg.in_flight_batches - len(self._in_flight)
        if room <= 0:
            return
        room -= await self._seal_live(room)  # fresh readings first: committed ones ...
        if room > 0 and await self._live_rows() == 0:
            room -= self._send_fresh(room)  # ... then those not committed yet, sent before the card ...
        if room > 0 and self._resend_due:
            room -= await self._resend(room)  # ... then batches whose confirmation is overdue ...
        while room > 0 and self._backlog_end is not None:  # ... then the backlog, oldest first
            batch = await self._buffer.seal(self._cfg.batch_max_readings, upto_id=self._backlog_end)
            if batch is None:
                self._backlog_end = None  # drained: from now on everything is live
                break
            self._send(batch, self._topics.backlog)
            room -= 1

    async def _seal_live(self, room: int) -> int:
        sent = 0
        while sent < room:
            live = await self._live_rows()
            linger_over = self._clock.monotonic() - self._last_seal >= self._cfg.batch_linger_s
            if not (live >= self._cfg.batch_max_readings or (live > 0 and linger_over)):
                break
            fresh = await self._buffer.seal(self._cfg.batch_max_readings, after_id=self._backlog_end)
            self._last_seal = self._clock.monotonic()
            if fresh is None:
                break
            self._send(fresh, self._topics.live)
            sent += 1
        return sent

    async def _live_rows(self) -> int:
        if self._backlog_end is None:
            return self._buffer.unsealed
        return await self._buffer.count_after(self._backlog_end)

    def _send_fresh(self, room: int) -> int:
        """Readings still waiting for their group commit, sent at once (the window has room): the commit
        writes their batch instead of their rows, or nothing if the confirmation comes first."""
        sent = 0
        while sent < room:
            fresh = self._buffer.take_fresh(self._cfg.batch_max_readings)
            if fresh is None:
                break
            self._send(fresh, self._topics.live)
            sent += 1
        return sent

    async def _resend(self, room: int) -> int:
        """Sealed batches outside the window, oldest first. Reading their payloads costs I/O, so this
        runs only after a reconnect or a timeout."""
        limit = self._cfg.in_flight_batches + len(self._in_flight)
        pending = await self._buffer.sealed(limit=limit)
        waiting = [b for b in pending if b.key.seq not in self._in_flight]
        for batch in waiting[:room]:
            self._send(batch, self._topics.backlog)
        self._resend_due = len(waiting) > room or len(pending) == limit
        return min(room, len(waiting))

    def _send(self, batch: SealedBatch, topic: str) -> None:
        seq = batch.key.seq
        self._link.publish(topic, batch.payload, qos=1)
        self._in_flight[seq] = self._clock.monotonic()
        if seq <= self._highest_sent:
            self.counters.add(Counter.BATCHES_RESENT)
        else:
            self._highest_sent = seq
            self.counters.add(Counter.BATCHES_SENT)
