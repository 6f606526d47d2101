"""What a sink is: an idempotent, transactional store of telemetry batches, plus the reads the CLI needs.

Every sink passes the same contract suite (``TestSinkContract`` in ``tests/collector/test_sink_sqlite.py``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from wire.points import Quality, Value
from wire.telemetry import TelemetryBatch


class WriteOutcome(enum.Enum):
    STORED = "stored"  # the batch is in the store now
    DUPLICATE = "duplicate"  # its key was already in the store: nothing written, confirm it again
    CONFLICT = "conflict"  # its key is in the store with other content: nothing written, quarantine it


@dataclass(frozen=True, slots=True)
class StoredReading:
    gateway: str
    device: str
    point: str
    ts_ms: int
    value: Value  # the Python type the gateway sent: int, float, str, bool or None
    quality: Quality
    reason: str | None


@dataclass(frozen=True, slots=True)
class QuarantinedPayload:
    received_at_ms: int
    topic: str
    gateway: str | None
    size: int
    reason: str


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One result or event as the store keeps it."""

    gateway: str
    epoch: str
    seq: int
    kind: str  # cmd/result or event
    what: str  # the event's kind or the result's state
    subject: str  # the event's device or the result's command id
    at_ms: int
    body: bytes


@dataclass(frozen=True, slots=True)
class StoreCounts:
    series: int
    batches: int
    readings: int
    quarantined: int


class Sink(Protocol):
    async def write(self, batches: Sequence[TelemetryBatch]) -> list[WriteOutcome]:
        """Store the batches in one transaction; one outcome per batch, in order.

        Idempotent on the batch key ``(gateway, epoch, seq)``, checked in the store itself, so it holds
        across restarts and across collectors sharing one store. A key already stored is a DUPLICATE when
        the content digest (:func:`wire.telemetry.content_digest`) matches, a CONFLICT when not. Raises
        :class:`StoreError` (nothing written) when the transaction fails.
        """
        ...

    async def quarantine(self, topic: str, payload: bytes, reason: str, gateway: str | None) -> None:
        """Keep a payload that will never be stored as telemetry, with the reason, for a person."""
        ...

    async def query(
        self, *, gateway: str | None, device: str, point: str, since_ms: int, until_ms: int, limit: int
    ) -> list[StoredReading]:
        """Readings of one series (of any gateway, if ``gateway`` is None) in ``[since, until)``, oldest
        first, at most ``limit``."""
        ...

    async def series(self) -> list[tuple[str, str, str]]:
        """Every ``(gateway, device, point)`` the store has seen: for the CLI's close names."""
        ...

    async def quarantined(self, limit: int) -> list[QuarantinedPayload]:
        """The most recently quarantined payloads, newest first."""
        ...

    async def counts(self) -> StoreCounts: ...

    async def close(self) -> None: ...
