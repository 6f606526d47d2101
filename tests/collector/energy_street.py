"""The reports' street: the luminaire simulator (a real Modbus TCP server, the DALI-to-Modbus gateway)
polled by the agent's real pollers over simulated time, the readings sent as telemetry batches (encoded
and decoded by the contract) into the collector's real SQLite store.

Time jumps from one event to the next (a poll, a level change, a gear swap), so days run in seconds: the
luminaire model integrates power and energy over each jump exactly (no fade: levels change at once).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from collector.sinks import open_sink
from collector.sinks.base import Sink
from drivers.modbus.config import ModbusDevice, ModbusTcpLink, resolve_points
from drivers.modbus.tcp import ModbusTcpDriver
from drivers.profiles.model import ModbusProfile
from edge_agent.config.load import read_yaml
from edge_agent.poll.poller import DevicePoller
from simulators.luminaire.bank import LuminaireBankServer
from wire.points import Reading
from wire.telemetry import BatchKey, decode_batch, encode_batch

PROFILE = Path(__file__).resolve().parents[2] / "configs" / "profiles" / "dali-gw-luminaire.yaml"
EPOCH = "5e1f0c0ffee0e0e0"
H_MS = 3_600_000


class SimTime:
    """The agent's clock (wall and monotonic) and the simulator's ``now``: moved by the test only."""

    def __init__(self, wall_ms: int) -> None:
        self.wall0_ms = wall_ms
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    def now_ms(self) -> int:
        return self.wall0_ms + round(self.t * 1000)

    def to(self, wall_ms: int) -> None:
        assert wall_ms >= self.now_ms(), "simulated time only goes forward"
        self.t = (wall_ms - self.wall0_ms) / 1000

    async def sleep(self, seconds: float) -> None:  # the pollers here are driven by poll_once
        await asyncio.sleep(0)


@dataclass
class Uplink:
    """What the agent's buffer and uplink do for these tests: readings into batches, into the store."""

    sink: Sink
    gateway: str
    pending: list[Reading] = field(default_factory=list)
    seq: int = 0

    async def append(self, readings: Sequence[Reading]) -> None:
        self.pending.extend(readings)

    async def flush(self) -> None:
        if self.pending:
            self.seq += 1
            payload = encode_batch(BatchKey(self.gateway, EPOCH, self.seq), self.pending)
            await self.sink.write([decode_batch(payload)])
            self.pending = []


@dataclass
class Street:
    sim: LuminaireBankServer
    time: SimTime
    pollers: list[DevicePoller]
    uplink: Uplink

    def set_level(self, sa: int, level: int) -> None:
        """What the agent's command does: the gateway's setpoint register of luminaire ``sa``."""
        self.sim.gateway.write(100 * sa + 15, [level])

    async def run(
        self,
        until_ms: int,
        *,
        poll_s: int = 900,
        events: Sequence[tuple[int, Callable[[], None]]] = (),
        dead: Sequence[tuple[int, int]] = (),
    ) -> None:
        """Poll every ``poll_s`` until ``until_ms``, running ``events`` at their times (before a poll at
        the same time); no poll while the agent is ``dead`` (``[start, end)`` spans)."""
        t0 = self.time.now_ms()
        polls: list[tuple[int, int, Callable[[], None] | None]] = [
            (t, 1, None) for t in range(t0, until_ms, poll_s * 1000)
        ]
        for at, _order, action in sorted([*((at, 0, a) for at, a in events), *polls], key=lambda e: e[:2]):
            self.time.to(at)
            if action is not None:
                action()
            elif not any(a <= at < b for a, b in dead):
                for p in self.pollers:
                    await p.poll_once()
                if len(self.uplink.pending) > 2000:
                    await self.uplink.flush()
        await self.uplink.flush()


def luminaire_device(sa: int) -> ModbusDevice:
    profile = ModbusProfile.model_validate(read_yaml(PROFILE))
    points = resolve_points(profile.points, {"c": 0, "sa": sa})
    return ModbusDevice(name=f"lum-{sa:02d}", unit=1, poll_interval_s=900, points=points)


@contextlib.asynccontextmanager
async def street(
    tmp_path: Path,
    start_ms: int,
    *,
    count: int = 1,
    gateway: str = "cab-01",
    nominal_w: float = 60.0,
    energy_wh: float = 0.0,
) -> AsyncIterator[Street]:
    clock = SimTime(start_ms)
    sink = await open_sink(f"sqlite:///{tmp_path}/store.db")
    try:
        async with LuminaireBankServer(
            count=count, now=clock, nominal_w=nominal_w, energy_wh=energy_wh
        ) as sim:
            devices = [luminaire_device(sa) for sa in range(count)]
            link = ModbusTcpLink(kind="modbus_tcp", host="127.0.0.1", port=sim.port, timeout_s=2.0)
            driver = ModbusTcpDriver("bus", link, devices)
            uplink = Uplink(sink, gateway)
            pollers = [
                DevicePoller(
                    driver=driver,
                    device=d.name,
                    points=[p.name for p in d.points],
                    interval_s=900,
                    offset_s=0,
                    buffer=uplink,
                    clock=clock,
                )
                for d in devices
            ]
            try:
                yield Street(sim, clock, pollers, uplink)
            finally:
                await driver.aclose()
    finally:
        await sink.close()
