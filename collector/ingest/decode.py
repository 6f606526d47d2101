"""Decoding one MQTT message into a telemetry batch, or into the reason it must be quarantined (pure).

A reason names the offending field as the contract does (``r[12][1]: timestamp ...``), so whoever reads
the quarantine can find the flaw in the gateway's payload.
"""

from __future__ import annotations

from dataclasses import dataclass

from wire.errors import PayloadError
from wire.telemetry import BatchKey, TelemetryBatch, decode_batch, peek_key
from wire.topics import BATCH_KINDS, TopicAddress, TopicKind, check_name, parse_topic


@dataclass(frozen=True, slots=True)
class Accepted:
    address: TopicAddress
    batch: TelemetryBatch


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that will never be stored; ``address`` and ``key`` when readable, to confirm it as
    rejected to the gateway that sent it."""

    reason: str
    address: TopicAddress | None = None
    key: BatchKey | None = None

    @property
    def gateway(self) -> str | None:
        return self.address.gateway if self.address else (self.key.gateway if self.key else None)


def decode_message(topic: str, payload: bytes, *, max_bytes: int) -> Accepted | Rejected:
    try:
        address = parse_topic(topic)
        check_name("site", address.site)
        check_name("gateway", address.gateway)
    except ValueError as exc:
        return Rejected(f"topic: {exc}", key=peek_key(payload))
    if address.kind not in BATCH_KINDS:
        return Rejected(
            f"topic: kind {address.kind.value!r} is not {TopicKind.TELEMETRY} or {TopicKind.BACKLOG}",
            address,
            peek_key(payload),
        )
    try:
        batch = decode_batch(payload, max_bytes=max_bytes)
    except PayloadError as exc:
        return Rejected(str(exc), address, peek_key(payload))
    if batch.key.gateway != address.gateway:
        return Rejected(
            f"gw: payload gateway {batch.key.gateway!r} does not match topic gateway {address.gateway!r}",
            address,
            batch.key,
        )
    return Accepted(address, batch)
