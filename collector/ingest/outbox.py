"""Outbox ingest: gateways' command results and events, stored once by key, then confirmed.

Routed on the collector's own MQTT session (``.../cmd/result`` and ``.../event``, manual acknowledgement)
to a queue of its own, apart from telemetry: a telemetry backlog never holds up a result. One cycle
takes up to ``max_messages`` messages, decodes them (:mod:`.outbox_decode`), writes the good ones in one
transaction of the outbox table (:mod:`collector.sinks.sqlite_outbox`) and quarantines the rest — and
the keys the store holds with another body (conflicts) — in the sink's quarantine. Only after the commit:
acknowledge every message to the broker and confirm on each gateway's ``.../outbox/confirm`` (``ok``
stored or already stored, ``rej`` quarantined, ``cf`` conflicts), under the outbox epoch.

A full queue refuses the message like telemetry's (acknowledged, counted in ``outbox_overflow``, not
confirmed: the gateway re-sends it). A failed commit is retried with capped backoff, the messages
unacknowledged meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping, Sequence

from collector.ingest.counters import IngestCounters
from collector.ingest.outbox_decode import (
    OutboxAccepted,
    OutboxRejected,
    decode_outbox_message,
    outbox_conflict_reason,
)
from collector.ingest.quarantine_log import QuarantineLog
from collector.sinks import open_outbox_store
from collector.sinks.base import OutboxRecord, Sink, WriteOutcome
from collector.sinks.sqlite_outbox import SqliteOutboxStore
from collector.sinks.url import StoreUrl
from mqtt_session import Backoff, Message, MqttLink, NotConnected
from wire.confirm import Confirmation, encode_confirmation
from wire.outbox import OUTBOX_KINDS
from wire.signing import KeyRing
from wire.topics import TopicKind, subscription, topic

log = logging.getLogger(__name__)

_Decoded = OutboxAccepted | OutboxRejected
_Group = tuple[set[int], set[int], set[int]]  # ok, rej, cf


class OutboxIngest:
    def __init__(
        self,
        *,
        link: MqttLink,
        sink: Sink,
        store_url: StoreUrl,
        counters: IngestCounters,
        site: str,
        share_group: str | None,
        max_queued: int,
        max_messages: int,
        max_payload_bytes: int,
        retry: Backoff | None = None,
        rings: Mapping[str, KeyRing] | None = None,
    ) -> None:
        """``rings``: each gateway's public keys (the config's ``commands.gateways``) to verify results
        with; None (no ``commands:`` section): results are checked for shape only."""
        self._rings = rings
        self._link = link
        self._sink = sink
        self._url = store_url
        self._counters = counters
        self._max_messages = max_messages
        self._max_payload_bytes = max_payload_bytes
        self._retry = retry or Backoff(initial=0.5, cap=30.0)
        self._rng = random.Random()
        self._queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=max_queued)
        self._stopping = asyncio.Event()
        self._log_quarantine = QuarantineLog(log)
        self.filters = [subscription(kind, site, share_group) for kind in sorted(OUTBOX_KINDS)]
        for f in self.filters:
            link.route(f, self._on_message, qos=1)

    def stop(self) -> None:
        self._stopping.set()

    def _on_message(self, message: Message) -> None:
        self._counters.received += 1
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self._counters.outbox_overflow += 1
            log.debug(
                "outbox queue full (%d): refused a message; its gateway re-sends it", self._queue.maxsize
            )
            self._link.ack(message)

    async def run(self) -> None:
        store = await open_outbox_store(self._url)
        try:
            while not self._stopping.is_set():
                messages = await self._take()
                if messages:
                    await self._commit(store, messages)
        finally:
            await store.close()

    async def _take(self) -> list[Message]:
        getter = asyncio.ensure_future(self._queue.get())
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not getter.done():
                getter.cancel()
        if not getter.done() or getter.cancelled():
            return []
        messages = [getter.result()]
        while len(messages) < self._max_messages and not self._queue.empty():
            messages.append(self._queue.get_nowait())
        return messages

    async def _commit(self, store: SqliteOutboxStore, messages: Sequence[Message]) -> None:
        decoded = [
            decode_outbox_message(m.topic, m.payload, max_bytes=self._max_payload_bytes, rings=self._rings)
            for m in messages
        ]
        failures = 0
        while True:
            try:
                outcomes = await self._store(store, messages, decoded)
                break
            except Exception as exc:
                failures += 1
                self._counters.store_errors += 1
                (log.error if failures == 1 else log.debug)(
                    "outbox store failed (attempt %d); %d messages stay unacknowledged: %s",
                    failures,
                    len(messages),
                    exc,
                )
                try:
                    async with asyncio.timeout(self._retry.delay(failures, self._rng)):
                        await self._stopping.wait()
                    return  # stopping: the broker redelivers them
                except TimeoutError:
                    continue
        self._settle(messages, decoded, outcomes)

    async def _store(
        self, store: SqliteOutboxStore, messages: Sequence[Message], decoded: Sequence[_Decoded]
    ) -> list[WriteOutcome]:
        accepted = [d for d in decoded if isinstance(d, OutboxAccepted)]
        outcomes = await store.write([_record(d) for d in accepted])
        pending = iter(outcomes)
        for m, d in zip(messages, decoded, strict=True):
            if isinstance(d, OutboxRejected):
                await self._sink.quarantine(m.topic, m.payload, d.reason, d.gateway)
            elif next(pending) is WriteOutcome.CONFLICT:
                reason = outbox_conflict_reason(d.frame.key)
                await self._sink.quarantine(m.topic, m.payload, reason, d.address.gateway)
        return outcomes

    def _settle(
        self, messages: Sequence[Message], decoded: Sequence[_Decoded], outcomes: Sequence[WriteOutcome]
    ) -> None:
        counters = self._counters
        groups: dict[tuple[str, str, str], _Group] = {}
        pending = iter(outcomes)
        for m, d in zip(messages, decoded, strict=True):
            if isinstance(d, OutboxAccepted):
                key = d.frame.key
                group = groups.setdefault(
                    (d.address.site, d.address.gateway, key.epoch), (set(), set(), set())
                )
                outcome = next(pending)
                if outcome is WriteOutcome.CONFLICT:
                    counters.conflicts += 1
                    counters.quarantined += 1
                    log.error("quarantined an outbox message on %s: %s", m.topic, outbox_conflict_reason(key))
                    group[1].add(key.seq)
                    group[2].add(key.seq)
                else:
                    if outcome is WriteOutcome.STORED:
                        counters.outbox_stored += 1
                    else:
                        counters.outbox_duplicates += 1
                    group[0].add(key.seq)
            else:
                counters.quarantined += 1
                self._log_quarantine(m, d.gateway, d.reason)
                if d.address is not None and d.key is not None:
                    group = groups.setdefault(
                        (d.address.site, d.address.gateway, d.key.epoch), (set(), set(), set())
                    )
                    group[1].add(d.key.seq)
            if not self._link.ack(m):
                counters.stale_acks += 1
        for (site, gateway, epoch), (ok, rej, cf) in groups.items():
            conf = Confirmation(epoch, tuple(sorted(ok)), tuple(sorted(rej - ok)), tuple(sorted(cf - ok)))
            try:
                self._link.publish(topic(site, gateway, TopicKind.OUTBOX_CONFIRM), encode_confirmation(conf))
            except NotConnected:
                counters.confirms_unsent += 1  # the gateway re-sends, and is confirmed then


def _record(d: OutboxAccepted) -> OutboxRecord:
    k = d.frame.key
    return OutboxRecord(
        k.gateway, k.epoch, k.seq, d.address.kind.value, d.what, d.subject, d.at_ms, d.frame.body
    )
