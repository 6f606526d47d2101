"""Decoding one outbox message (a command result or an event in its frame) into what the store keeps, or
into the reason it must be quarantined (pure). The checks and their reasons are listed in
``docs/protocol.md`` ("What the collector checks on an outbox message").

A result's envelope and body are checked for shape; when the collector has a ``commands:`` section
(``rings``: each gateway's public keys), its signature is verified with the gateway's keys too, and a
result that does not verify is quarantined: whoever controls the broker cannot report a ``done`` that
did not happen. The store keeps the envelope as sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wire.commands import decode_result
from wire.errors import PayloadError, SignatureError
from wire.events import decode_event
from wire.outbox import OUTBOX_KINDS, OutboxFrame, OutboxKey, decode_frame, peek_outbox_key
from wire.signing import KeyRing, decode_envelope
from wire.topics import TopicAddress, TopicKind, check_name, parse_topic


@dataclass(frozen=True, slots=True)
class OutboxAccepted:
    address: TopicAddress
    frame: OutboxFrame
    what: str  # the event's kind, or the result's state
    subject: str  # the event's device, or the result's command id
    at_ms: int


@dataclass(frozen=True, slots=True)
class OutboxRejected:
    reason: str
    address: TopicAddress | None = None
    key: OutboxKey | None = None

    @property
    def gateway(self) -> str | None:
        return self.address.gateway if self.address else (self.key.gateway if self.key else None)


def decode_outbox_message(
    topic: str, payload: bytes, *, max_bytes: int, rings: Mapping[str, KeyRing] | None = None
) -> OutboxAccepted | OutboxRejected:
    try:
        address = parse_topic(topic)
        check_name("site", address.site)
        check_name("gateway", address.gateway)
    except ValueError as exc:
        return OutboxRejected(f"topic: {exc}", key=peek_outbox_key(payload))
    key = peek_outbox_key(payload)
    if address.kind not in OUTBOX_KINDS:
        kinds = " or ".join(sorted(k.value for k in OUTBOX_KINDS))
        return OutboxRejected(f"topic: kind {address.kind.value!r} is not {kinds}", address, key)
    try:
        frame = decode_frame(payload, max_bytes=max_bytes)
    except PayloadError as exc:
        return OutboxRejected(str(exc), address, key)
    if frame.key.gateway != address.gateway:
        return OutboxRejected(
            f"gw: payload gateway {frame.key.gateway!r} does not match topic gateway {address.gateway!r}",
            address,
            frame.key,
        )
    try:
        if address.kind is TopicKind.EVENT:
            event = decode_event(frame.body)
            return OutboxAccepted(address, frame, event.kind.value, event.device, event.at_ms)
        where = "b"
        envelope = decode_envelope(frame.body)
        where = "b.body"
        result = decode_result(envelope.body)
    except PayloadError as exc:
        where = "b" if address.kind is TopicKind.EVENT else where
        inner = f"{where}.{exc.where}: {exc.reason}" if exc.where else f"{where}: {exc.reason}"
        return OutboxRejected(inner, address, frame.key)
    if result.gateway != address.gateway:
        return OutboxRejected(
            f"b.body.gateway: result of gateway {result.gateway!r} on the topic of {address.gateway!r}",
            address,
            frame.key,
        )
    if rings is not None:
        ring = rings.get(address.gateway)
        if ring is None:
            return OutboxRejected(
                f"b: no public key of gateway {address.gateway!r} (collector config commands.gateways)",
                address,
                frame.key,
            )
        try:
            ring.verify_result(frame.body)
        except (SignatureError, PayloadError) as exc:
            return OutboxRejected(f"b: the gateway's signature does not verify: {exc}", address, frame.key)
    return OutboxAccepted(address, frame, result.state.value, str(result.command_id), result.ts_ms)


def outbox_conflict_reason(key: OutboxKey) -> str:
    """The quarantine reason of a message whose key the store already holds with another body."""
    return (
        f"sq: outbox key ({key.gateway}, {key.epoch}, {key.seq}) re-used: the store holds another body "
        "under it (conflict)"
    )
