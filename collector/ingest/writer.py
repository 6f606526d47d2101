"""The writer: drains the ingest queues into the sink, one transaction at a time, then settles.

One cycle: take up to ``max_messages_per_commit`` messages (waiting only for the first; live ones first,
then backlog ones: :class:`~collector.ingest.inbox.Inbox`), decode each,
write the good batches in ONE sink transaction and quarantine the rest, and the batches whose key the
store holds with other content (a conflict: quarantined, counted, confirmed as rejected and as a
conflict, never dropped in silence). Only after that commit:
acknowledge every message to the broker, on the session it came on, and publish one confirmation per
gateway and epoch, on the live session.

A failed commit (any exception from the sink) is logged at ERROR once, retried with capped backoff
(DEBUG while it keeps failing, INFO on recovery) and the messages stay unacknowledged meanwhile; the
broker stops sending once the receive maximum is in flight, so nothing piles up. A retry writes the
batches again: the store's batch key turns any already committed one into a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence

from collector.ingest.confirmations import ConfirmationSet
from collector.ingest.counters import IngestCounters
from collector.ingest.decode import Accepted, Rejected, decode_message
from collector.ingest.inbox import Inbox, Received
from collector.ingest.quarantine_log import QuarantineLog
from collector.sinks.base import Sink, WriteOutcome
from mqtt_session import Backoff, Message, MqttLink, NotConnected

log = logging.getLogger(__name__)

_Decoded = Accepted | Rejected


class Writer:
    def __init__(
        self,
        *,
        inbox: Inbox,
        confirm_link: MqttLink,
        sink: Sink,
        counters: IngestCounters,
        max_messages: int,
        max_payload_bytes: int,
        retry: Backoff | None = None,
    ) -> None:
        self._inbox = inbox
        self._confirm_link = confirm_link
        self._sink = sink
        self._counters = counters
        self._max_messages = max_messages
        self._max_payload_bytes = max_payload_bytes
        self._retry = retry or Backoff(initial=0.5, cap=30.0)
        self._rng = random.Random()
        self._stopping = asyncio.Event()
        self._log_quarantine = QuarantineLog(log)

    def stop(self) -> None:
        """Finish the cycle in progress (unless its store is failing), then return from :meth:`run`."""
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            messages = await self._take()
            if messages:
                await self._commit(messages)

    async def _take(self) -> list[Received]:
        return await self._inbox.take(self._max_messages, self._stopping)

    async def _commit(self, received: Sequence[Received]) -> None:
        messages = [r.message for r in received]
        decoded = [decode_message(m.topic, m.payload, max_bytes=self._max_payload_bytes) for m in messages]
        failures = 0
        while True:
            try:
                outcomes = await self._store(messages, decoded)
                break
            except Exception as exc:
                failures += 1
                self._counters.store_errors += 1
                if failures == 1:
                    log.error(
                        "store failed; %d messages stay unacknowledged, retrying: %s", len(messages), exc
                    )
                else:
                    log.debug("store still failing (attempt %d): %s", failures, exc)
                if await self._stopped_within(self._retry.delay(failures, self._rng)):
                    log.warning("stopping with %d messages uncommitted; the broker redelivers", len(messages))
                    return
        if failures:
            log.info("store recovered after %d failed attempts", failures)
        self._settle(received, decoded, outcomes)

    async def _store(self, messages: Sequence[Message], decoded: Sequence[_Decoded]) -> list[WriteOutcome]:
        batches = [d.batch for d in decoded if isinstance(d, Accepted)]
        outcomes = await self._sink.write(batches)
        if len(outcomes) != len(batches):  # a broken sink: treat it as a failed commit, never guess
            raise RuntimeError(f"sink returned {len(outcomes)} outcomes for {len(batches)} batches")
        pending = iter(outcomes)
        for m, d in zip(messages, decoded, strict=True):
            if isinstance(d, Rejected):
                await self._sink.quarantine(m.topic, m.payload, d.reason, d.gateway)
            elif next(pending) is WriteOutcome.CONFLICT:
                await self._sink.quarantine(m.topic, m.payload, conflict_reason(d), d.address.gateway)
        return outcomes

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    def _settle(
        self, received: Sequence[Received], decoded: Sequence[_Decoded], outcomes: Sequence[WriteOutcome]
    ) -> None:
        """After the commit: count, acknowledge every message on its session, publish the confirmations."""
        counters = self._counters
        confirmations = ConfirmationSet()
        pending = iter(outcomes)
        for r, d in zip(received, decoded, strict=True):
            m = r.message
            if isinstance(d, Accepted):
                outcome = next(pending)
                if outcome is WriteOutcome.CONFLICT:
                    counters.conflicts += 1
                    counters.quarantined += 1
                    self._log_quarantine(m, d.address.gateway, conflict_reason(d))
                    confirmations.conflict(d.address, d.batch.key)
                elif outcome is WriteOutcome.STORED:
                    counters.stored_batches += 1
                    counters.stored_readings += len(d.batch.readings)
                    confirmations.stored(d.address, d.batch.key)
                else:
                    counters.duplicates += 1
                    confirmations.stored(d.address, d.batch.key)
            else:
                counters.quarantined += 1
                self._log_quarantine(m, d.gateway, d.reason)
                if d.address is not None and d.key is not None:
                    confirmations.rejected(d.address, d.key)
            if not r.link.ack(m):
                counters.stale_acks += 1  # came on an older connection: the broker redelivers it
        for topic, payload in confirmations.messages():
            try:
                self._confirm_link.publish(topic, payload, qos=1)
            except NotConnected:
                counters.confirms_unsent += 1  # the gateway re-sends, and is confirmed then
                log.debug("confirmation to %s not sent: not connected", topic)


def conflict_reason(d: Accepted) -> str:
    """The quarantine reason of a batch whose key the store already holds with other content."""
    k = d.batch.key
    return (
        f"sq: batch key ({k.gateway}, {k.epoch}, {k.seq}) re-used: the store holds other content "
        "under it (conflict)"
    )
