"""The lighting tests' street: the lighting runner, the command executor and the luminaire simulator (a
real Modbus server, the DALI-to-Modbus gateway) on one clock the runner's own sleeps move on, and what
the luminaire reports after each command. With ``cabinet=True`` the luminaires' mains come from the
cabinet simulator (a second Modbus server: the contactor ``cab`` and an astronomical relay in parallel
at the street's place)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.base import Driver
from drivers.scheduler import BusScheduler
from edge_agent.commands import astro
from edge_agent.commands.executor import Executor
from edge_agent.commands.targets import Location
from edge_agent.commands.wiring import command_targets
from edge_agent.config.load import load_config
from edge_agent.lighting.runner import LightingRunner, Order
from edge_agent.poll.build import build_driver
from lighting.model import ProgramSet
from lighting.sun import Place
from simulators.contactor.fallback import AstroRelay
from simulators.contactor.server import CabinetServer
from simulators.luminaire.bank import LuminaireBankServer
from tests.drivers.conftest import PROFILES
from wire.commands import Command, ResultState

UTC = dt.UTC
MONO0 = 1000.0


class NightClock:
    """The agent's clock and the simulator's ``now``: a sleep moves both on at once (then yields)."""

    def __init__(self, start: dt.datetime) -> None:
        self.wall0_ms = round(start.timestamp() * 1000)
        self.t = MONO0

    def __call__(self) -> float:
        return self.t

    def now_ms(self) -> int:
        return self.wall0_ms + round((self.t - MONO0) * 1000)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await asyncio.sleep(0.005)

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now_ms() / 1000, UTC)


@dataclass
class Street:
    clock: NightClock
    lamps: LuminaireBankServer
    executor: Executor
    place: Place
    cabinet: CabinetServer | None = None
    seen: list[tuple[dt.datetime, int]] = field(default_factory=list)  # lum-00's level after each command
    switched: list[tuple[dt.datetime, bool]] = field(default_factory=list)  # the contactor, each time

    async def switch(self, on: bool, reason: str) -> bool:
        now = self.clock.now_ms()
        cmd = Command(
            id=uuid.uuid4(),
            gateway="cab-0042",
            device="cab",
            action="switch",
            args={"on": on},
            issued_at_ms=now,
            expires_at_ms=now + 60_000,
            issuer=f"lighting: {reason}"[:200],
            key_id="centre-k",
        )
        result = await self.executor.run(cmd)
        self.switched.append((self.clock.now(), on))
        return result.state is ResultState.DONE

    async def apply(self, order: Order) -> bool:
        now = self.clock.now_ms()
        cmd = Command(
            id=uuid.uuid4(),
            gateway="cab-0042",
            device=order.device,
            action="set_level",
            args={"level": order.level},
            issued_at_ms=now,
            expires_at_ms=now + 60_000,
            issuer=f"lighting program set v{order.version}",
            key_id="centre-k",
        )
        result = await self.executor.run(cmd)
        if order.device == "lum-00":
            level = round(self.lamps.luminaire(0).state().level_percent)
            self.seen.append((dt.datetime.fromtimestamp(now / 1000, UTC), level))
        return result.state is ResultState.DONE

    def runner(self, pset: ProgramSet | None, **kw: Any) -> LightingRunner:
        if self.cabinet is not None:
            kw.setdefault("switch", self.switch)
        r = LightingRunner(
            devices=["lum-00"], place=self.place, clock=self.clock, apply=self.apply, tick_s=3600, **kw
        )
        r.install(pset)
        return r

    async def run_until(self, runner: LightingRunner, end: dt.datetime) -> None:
        task = asyncio.create_task(runner.run())
        try:
            while self.clock.now() < end:
                await asyncio.sleep(0.01)
                if self.cabinet is not None:
                    self.cabinet.cabinet.update()
                assert not task.done(), task
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def street_at(
    start: dt.datetime, place: Place, tmp_path: Path, *, cabinet: bool = False
) -> AsyncIterator[Street]:
    clock = NightClock(start)
    async with contextlib.AsyncExitStack() as stack:
        lamps = await stack.enter_async_context(LuminaireBankServer("127.0.0.1", 0, count=1, now=clock))
        cab = None
        buses = (
            f"  - {{name: dali-gw, kind: modbus_tcp, host: 127.0.0.1, port: {lamps.port}, "
            "timeout_s: 1.0,\n     devices: [{name: lum-00, profile: dali-gw-luminaire,"
            " params: {c: 0, sa: 0}}]}\n"
        )
        if cabinet:
            relay = AstroRelay(place.latitude, place.longitude, lambda: clock.now_ms() / 1000)
            cab = CabinetServer(fallback=relay, on_mains=lamps.mains)
            await stack.enter_async_context(cab)
            cab.cabinet.update()
            buses += (
                f"  - {{name: cabinet, kind: modbus_tcp, host: 127.0.0.1, port: {cab.port}, "
                "timeout_s: 1.0,\n     devices: [{name: cab, profile: cabinet-contactor}]}\n"
            )
        config = tmp_path / "agent.yaml"
        config.write_text(
            f"gateway: cab-0042\nsite: s\nprofile_paths: [{PROFILES}]\n"
            f"location: {{latitude: {place.latitude}, longitude: {place.longitude}}}\n"
            f"buses:\n{buses}"
        )
        resolved = load_config(config)
        drivers: list[Driver] = [build_driver(b, BusScheduler(b.name)) for b in resolved.buses]
        try:
            executor = Executor(
                gateway="cab-0042",
                key_id="cab-0042-k",
                targets=command_targets(resolved.buses, drivers),
                clock=clock,
                location=Location(place.latitude, place.longitude),
            )
            yield Street(clock, lamps, executor, place, cab)
        finally:
            for d in drivers:
                await d.aclose()


def noaa(place: Place, day: dt.date, event: str) -> dt.datetime:
    times = astro.sun_times(place.latitude, place.longitude, day)
    ms = times.sunset_ms if event == "sunset" else times.sunrise_ms
    assert ms is not None
    return dt.datetime.fromtimestamp(ms / 1000, UTC)


def local(place: Place, day: dt.date, hh: int, mm: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=place.tz).astimezone(UTC)


def matches(seen: list[tuple[dt.datetime, int]], expected: list[tuple[dt.datetime, int]]) -> None:
    """The same levels in the same order (within 1 %: the gear's arc levels round the dimming curve),
    each within two minutes of its time (two sun algorithms)."""
    assert len(seen) == len(expected), (seen, expected)
    for (t, lvl), (want_t, want) in zip(seen, expected, strict=True):
        assert abs(lvl - want) <= 1, (seen, expected)
        assert abs((t - want_t).total_seconds()) <= 120, f"{lvl} % at {t}, the program says {want_t}"
