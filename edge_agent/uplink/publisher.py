"""Publish the buffer's units within an in-flight window; retire them only on the collector's confirmation.

On every (re)connection every unconfirmed unit is due again (the broker may have lost it). A unit
unconfirmed after ``confirm_timeout_s`` is re-sent with the same key and bytes; the collector
recognises it and confirms again.

Confirmations wait in a bounded queue (``max_queued_confirmations``) until the uplink applies them to
the buffer. Past the bound the newest is dropped (:attr:`ConfirmationQueuePolicy.DROP_NEWEST`,
counted as ``confirmations_dropped_queue_full_total``, logged once at WARNING): nothing is lost, its
units stay, are re-sent after ``confirm_timeout_s`` and confirmed again.

Send before the card: while the window has room, readings still waiting for their group commit leave
in a batch under a key from the reserved block (:meth:`Buffer.take_fresh`) once the first of them has
waited ``batch_linger_s`` (0.1 s by default: the polls of that time share one message, a Nagle of
sorts) — or just before the group commit, whichever comes first; the commit then writes that batch as
it was sent, or nothing when its confirmation came first. When the window is full, a group commit
writes what waits as chunks, each a unit sent as soon as the window has room; when the link is down,
chunks gather into backlog groups of at least 1,000 readings (:mod:`edge_agent.buffer.groups`):
batches grow only under load.

Live first: every unit that exists when the connection comes up is the backlog. Units committed since
take the first free slots of the window, then readings not committed yet; the backlog drains behind
them, oldest first, as fast as confirmations free slots. Each part keeps its series in order.

Live units go on the live topic (``.../telemetry``), the backlog and every re-send on the backlog
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
        self._in_flight: dict[int, float] = {}  # key -> monotonic time sent
        self._highest_sent = 0  # keys only grow: one at or below it was sent before (by this process)
        self._generation = -1
        self._overdue: list[int] = []  # keys to send again (their confirmation is late)
        self._backlog: tuple[int, int] | None = None  # units with after < key <= end still to send
        self._confirmations: asyncio.Queue[Confirmation] = asyncio.Queue(config.max_queued_confirmations)
        self.queue_policy = ConfirmationQueuePolicy.DROP_NEWEST
        self._queue_full_logged = False
        self._wake = asyncio.Event()
        self.counters = Counts(UPLINK)
        self.last_confirm_ms: int | None = None
        self.last_confirm_mono: float | None = None  # the same moment on the clock's monotonic scale
        self._filling = False  # a round is filling the window (the writer's hook then leaves it alone)
        buffer.listeners.append(self._wake.set)
        buffer.fresh_listeners.append(self._wake.set)
        buffer.before_commit.append(self._before_commit)

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
            if not self._link.connected.is_set():
                self._buffer.online = False  # chunks gather into backlog groups until it is back
                await self._link.connected.wait()
            if self._link.generation != self._generation:
                self._generation = self._link.generation
                self._in_flight.clear()  # a new connection: everything unconfirmed is due again
                self._overdue.clear()
                self._buffer.live_units.clear()  # they are the backlog now
                self._backlog = (0, self._buffer.newest_key())
                self._buffer.online = True
            # Cleared before the work, not after: readings that arrive while it awaits the buffer wake
            # the next round (they may leave before their commit only if the publisher looks again).
            self._wake.clear()
            await self._apply_confirmations()
            self._filling = True
            try:
                await self._fill_window()
            except NotConnected:
                continue
            finally:
                self._filling = False
            if not self._confirmations.empty():
                continue
            await wait_for_work(self._wake, self._link.disconnected, self._next_deadline())

    def _next_deadline(self) -> float:
        now = self._clock.monotonic()
        deadlines = [t + self._cfg.confirm_timeout_s - now for t in self._in_flight.values()]
        age = self._buffer.fresh_age()
        if age is not None:  # fresh readings leave when their linger is over
            deadlines.append(self._cfg.batch_linger_s - age)
        return max(0.01, min(deadlines, default=5.0))

    def _linger_over(self) -> bool:
        age = self._buffer.fresh_age()
        return age is not None and age >= self._cfg.batch_linger_s

    def _before_commit(self) -> None:
        """The writer is about to commit what waits: what the window has room for leaves now instead,
        so that the commit writes nothing for it (its confirmation comes first)."""
        if self._filling or self._buffer.live_units or not self._link.connected.is_set():
            return
        if self._link.generation != self._generation:
            return  # a new connection the run loop has not taken in yet
        room = self._cfg.in_flight_batches - len(self._in_flight)
        if room > 0:
            try:
                self._send_fresh(room)
            except NotConnected:
                return

    async def _apply_confirmations(self) -> None:
        while not self._confirmations.empty():
            conf = self._confirmations.get_nowait()
            if conf.stored:
                await self._buffer.ack(conf.stored)
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
                    self._overdue += [s for s in conf.rejected if s in self._in_flight]
                self.counters.add(Counter.BATCHES_REJECTED, len(conf.rejected))
            for seq in (*conf.stored, *conf.rejected):
                self._in_flight.pop(seq, None)

    async def _fill_window(self) -> None:
        now = self._clock.monotonic()
        for seq, sent in list(self._in_flight.items()):
            if now - sent >= self._cfg.confirm_timeout_s:
                del self._in_flight[seq]  # due again
                self._overdue.append(seq)
        room = self._cfg.in_flight_batches - len(self._in_flight)
        if room <= 0:
            return
        room -= await self._send_live(room)  # units committed while connected first ...
        if room > 0 and not self._buffer.live_units and self._linger_over():
            room -= self._send_fresh(room)  # ... then readings not committed yet, sent before the card ...
        if room > 0 and self._overdue:
            room -= await self._resend(room)  # ... then units whose confirmation is overdue ...
        while room > 0 and self._backlog is not None:  # ... then the backlog, oldest first
            after, end = self._backlog
            units, more = await self._buffer.backlog(after, end, room)
            for unit in units:
                self._send(unit, self._topics.backlog)
            room -= len(units)
            if units:
                self._backlog = (units[-1].key.seq, end)
            elif not more:
                self._backlog = None  # drained: from now on everything is live
            if not units:
                break  # the open group closes at the next commit, which wakes this loop

    async def _send_live(self, room: int) -> int:
        live = self._buffer.live_units
        if not live:
            return 0
        keys = [live.popleft() for _ in range(min(room, len(live)))]
        units = await self._buffer.units(keys)
        for unit in units:
            self._send(unit, self._topics.live)
        return len(units)

    def _send_fresh(self, room: int) -> int:
        """Readings still waiting for their group commit, sent at once (the window has room): the commit
        writes their batch as it was sent, or nothing if the confirmation comes first."""
        sent = 0
        while sent < room:
            fresh = self._buffer.take_fresh(self._cfg.batch_max_readings)
            if fresh is None:
                break
            self._send(fresh, self._topics.live)
            sent += 1
        return sent

    async def _resend(self, room: int) -> int:
        """Units whose confirmation is overdue (or whose rejection could not be recorded), oldest first."""
        self._overdue.sort()
        keys, self._overdue = self._overdue[:room], self._overdue[room:]
        units = await self._buffer.units(keys)
        for unit in units:
            self._send(unit, self._topics.backlog)
        return len(units)

    def _send(self, batch: SealedBatch, topic: str) -> None:
        seq = batch.key.seq
        self._link.publish(topic, batch.payload, qos=1)
        self._in_flight[seq] = self._clock.monotonic()
        if seq <= self._highest_sent:
            self.counters.add(Counter.BATCHES_RESENT)
        else:
            self._highest_sent = seq
            self.counters.add(Counter.BATCHES_SENT)
