"""Periodic ``_agent`` readings: buffer depth and drops, the buffer's cap and disk, the outbox's depth and
bound (``outbox_depth``, ``outbox_bound``, its counters, and ``outbox_refusal``: why new work is refused,
empty text while it is accepted), uplink state, devices
offline, and per bus (``bus.<name>.*``) the requests sent, the queue depth (now and the most seen) and
the share of the last period the line was busy. With lighting (``lighting.*``): ``clock_trusted``
(false: never synchronised, or stepped beyond the tolerance: the default level runs), ``program_version``
(the set it runs, 0: none), ``mode`` (``program``, ``default_dusk_to_dawn``: no set,
``default_no_clock``) and, with a contactor, ``mains`` (its output as last read back).

On a full disk the report itself may find no room in the buffer: it is counted there like any reading
(``readings_dropped_disk_full_total``), and the next report that gets in carries the count."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from drivers.scheduler import BusScheduler, BusStats
from edge_agent.buffer.store import Buffer, BufferFull
from edge_agent.clock import Clock
from edge_agent.counters import DROPS, Counter
from edge_agent.lighting.runner import LightingRunner
from edge_agent.outbox.sender import OutboxSender
from edge_agent.outbox.store import Outbox
from edge_agent.poll.poller import DevicePoller
from edge_agent.poll.report import ReportFilter
from edge_agent.uplink.publisher import Counted
from mqtt_session import Connectivity
from wire.points import Reading

AGENT_DEVICE = "_agent"


class HealthReporter:
    def __init__(
        self,
        *,
        buffer: Buffer,
        publisher: Counted,
        link: Connectivity,
        pollers: Sequence[DevicePoller],
        clock: Clock,
        interval_s: float,
        buses: Sequence[BusScheduler] = (),
        report: ReportFilter | None = None,
        outbox: Outbox | None = None,
        outbox_sender: OutboxSender | None = None,
        lighting: LightingRunner | None = None,
    ) -> None:
        self._buffer = buffer
        self._publisher = publisher
        self._link = link
        self._pollers = pollers
        self._clock = clock
        self._interval_s = interval_s
        self._buses = buses
        self._report = report
        self._outbox = outbox
        self._outbox_sender = outbox_sender
        self._lighting = lighting
        self._last: dict[str, BusStats] = {}  # each bus's counters at the previous report

    async def run(self) -> None:
        while True:
            await self.report()
            await self._clock.sleep(self._interval_s)

    async def report(self) -> list[Reading]:
        stats = await self._buffer.stats()
        ts = self._clock.now_ms()
        values: dict[str, float | int | bool | str] = {
            "buffer_unsealed": stats.unsealed,
            "buffer_sealed_readings": stats.sealed_readings,
            "buffer_bytes": stats.bytes,
            "buffer_oldest_age_s": 0 if stats.oldest_ts is None else max(0, (ts - stats.oldest_ts) // 1000),
            "buffer_cap_bytes": stats.cap_bytes,
            "buffer_disk_full": stats.disk_full,
            "uplink_connected": self._link.connected.is_set(),
            "devices_offline": sum(1 for p in self._pollers if p.health.online is False),
            # the counters, by their names (edge_agent.counters): the buffer's ...
            **{str(c): n for c, n in stats.counters.items()},
            Counter.DROPPED: sum(stats.counters[c] for c in DROPS),
            Counter.SUPPRESSED: 0 if self._report is None else self._report.suppressed,
            **self._publisher.counters.as_dict(),  # ... and the uplink's
        }
        if self._outbox is not None:
            values.update(await self._outbox_values(self._outbox))
        if stats.disk_free_bytes is not None:
            values["buffer_disk_free_bytes"] = stats.disk_free_bytes
        for bus in self._buses:
            values.update(self._bus_values(bus))
        if self._lighting is not None:
            values.update(lighting_values(self._lighting))
        readings = [Reading(AGENT_DEVICE, k, ts, v) for k, v in values.items()]
        with contextlib.suppress(BufferFull):  # counted by the buffer (dropped: disk full), and logged
            await self._buffer.append(readings)
        return readings

    async def _outbox_values(self, outbox: Outbox) -> dict[str, float | int | bool | str]:
        stats = await outbox.stats()
        values: dict[str, float | int | bool | str] = {
            "outbox_depth": stats.depth,
            "outbox_bound": stats.bound,
            "outbox_refusal": stats.refusal or "",
            **{str(c): n for c, n in stats.counters.items()},
        }
        if self._outbox_sender is not None:
            values.update(self._outbox_sender.counters.as_dict())
        return values

    def _bus_values(self, bus: BusScheduler) -> dict[str, float | int | bool]:
        now, before = bus.stats(), self._last.get(bus.name)
        self._last[bus.name] = now
        busy, elapsed = now.busy_s, now.elapsed_s
        if before is not None:
            busy, elapsed = busy - before.busy_s, elapsed - before.elapsed_s
        prefix = f"bus.{bus.name}."
        return {
            prefix + "requests_total": now.requests,
            prefix + "queue_depth": now.queue_depth,
            prefix + "queue_max": now.queue_max,
            prefix + "busy_fraction": round(busy / elapsed, 4) if elapsed > 0 else 0.0,
        }


def lighting_values(runner: LightingRunner) -> dict[str, float | int | bool | str]:
    """What the lighting runs on: the clock's trust, the set's version, the mode, the contactor."""
    values: dict[str, float | int | bool | str] = {
        "lighting.clock_trusted": runner.clock_trusted,
        "lighting.program_version": runner.version or 0,
        "lighting.mode": runner.mode,
    }
    if runner.mains is not None:
        values["lighting.mains"] = runner.mains
    return values
