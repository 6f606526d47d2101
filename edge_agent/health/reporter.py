"""Periodic ``_agent`` readings: buffer depth and drops, uplink state, devices offline."""

from __future__ import annotations

from collections.abc import Sequence

from edge_agent.buffer.store import Buffer
from edge_agent.clock import Clock
from edge_agent.points import Reading
from edge_agent.poll.poller import DevicePoller
from edge_agent.uplink.publisher import Publisher
from edge_agent.wire.transport import MqttLink

AGENT_DEVICE = "_agent"


class HealthReporter:
    def __init__(
        self,
        *,
        buffer: Buffer,
        publisher: Publisher,
        link: MqttLink,
        pollers: Sequence[DevicePoller],
        clock: Clock,
        interval_s: float,
    ) -> None:
        self._buffer = buffer
        self._publisher = publisher
        self._link = link
        self._pollers = pollers
        self._clock = clock
        self._interval_s = interval_s

    async def run(self) -> None:
        while True:
            await self.report()
            await self._clock.sleep(self._interval_s)

    async def report(self) -> list[Reading]:
        stats = await self._buffer.stats()
        ts = self._clock.now_ms()
        values: dict[str, float | int | bool] = {
            "buffer_unsealed": stats.unsealed,
            "buffer_sealed_readings": stats.sealed_readings,
            "buffer_bytes": stats.bytes,
            "buffer_oldest_age_s": 0 if stats.oldest_ts is None else max(0, (ts - stats.oldest_ts) // 1000),
            "readings_committed_total": stats.counters.get("committed", 0),
            "readings_dropped_total": stats.counters.get("dropped_buffer_full", 0),
            "readings_rejected_total": stats.counters.get("rejected", 0),
            "uplink_connected": self._link.connected.is_set(),
            "batches_resent_total": self._publisher.counters.batches_resent,
            "devices_offline": sum(1 for p in self._pollers if p.health.online is False),
        }
        readings = [Reading(AGENT_DEVICE, k, ts, v) for k, v in values.items()]
        await self._buffer.append(readings)
        return readings
