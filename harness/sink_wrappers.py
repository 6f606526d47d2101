"""Sinks around a real sink that misbehave on purpose: one that blocks in write, one that fails."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from collector.errors import StoreError
from collector.sinks.base import QuarantinedPayload, Sink, StoreCounts, StoredReading, WriteOutcome
from wire.telemetry import TelemetryBatch


class SinkWrapper:
    """Passes everything to ``inner``; subclasses change what they need."""

    def __init__(self, inner: Sink) -> None:
        self.inner = inner

    async def write(self, batches: Sequence[TelemetryBatch]) -> list[WriteOutcome]:
        return await self.inner.write(batches)

    async def quarantine(self, topic: str, payload: bytes, reason: str, gateway: str | None) -> None:
        await self.inner.quarantine(topic, payload, reason, gateway)

    async def query(
        self, *, gateway: str | None, device: str, point: str, since_ms: int, until_ms: int, limit: int
    ) -> list[StoredReading]:
        return await self.inner.query(
            gateway=gateway, device=device, point=point, since_ms=since_ms, until_ms=until_ms, limit=limit
        )

    async def series(self) -> list[tuple[str, str, str]]:
        return await self.inner.series()

    async def quarantined(self, limit: int) -> list[QuarantinedPayload]:
        return await self.inner.quarantined(limit)

    async def counts(self) -> StoreCounts:
        return await self.inner.counts()

    async def close(self) -> None:
        await self.inner.close()


class BlockingSink(SinkWrapper):
    """``write`` signals ``entered`` and waits for ``release`` before writing anything."""

    def __init__(self, inner: Sink) -> None:
        super().__init__(inner)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def write(self, batches: Sequence[TelemetryBatch]) -> list[WriteOutcome]:
        self.entered.set()
        await self.release.wait()
        return await self.inner.write(batches)


class FailingSink(SinkWrapper):
    """The first ``failures`` writes raise :class:`StoreError` (nothing written), then it recovers."""

    def __init__(self, inner: Sink, failures: int) -> None:
        super().__init__(inner)
        self.failures = failures
        self.attempts = 0

    async def write(self, batches: Sequence[TelemetryBatch]) -> list[WriteOutcome]:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise StoreError("test://", "disk on fire")
        return await self.inner.write(batches)
