"""A street in simulated time: the lighting runner, the command executor and the luminaire simulator (a
real Modbus server, the DALI-to-Modbus gateway) on one clock the runner's own sleeps move on, and what
the first luminaire reports after each command. The lighting tests use it, and the demo runs a night
on it to print the night's saving (:func:`night_saving`). With ``cabinet=True`` the luminaires' mains
come from the cabinet simulator (a second Modbus server: the contactor ``cab`` and an astronomical relay
in parallel at the street's place), and the runner switches the contactor."""

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
from edge_agent.commands.executor import Executor
from edge_agent.commands.targets import Location
from edge_agent.commands.wiring import command_targets
from edge_agent.config.load import load_config
from edge_agent.lighting.runner import LightingRunner, Order
from edge_agent.poll.build import build_driver
from harness.stack import ROOT
from lighting.model import ProgramSet, SolarEvent
from lighting.sun import Place, solar_event
from simulators.contactor.fallback import AstroRelay
from simulators.contactor.server import CabinetServer
from simulators.luminaire.bank import LuminaireBankServer
from wire.commands import Command, ResultState

UTC = dt.UTC
MONO0 = 1000.0
PROFILES = ROOT / "configs" / "profiles"


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
    devices: tuple[str, ...] = ("lum-00",)
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
            devices=self.devices, place=self.place, clock=self.clock, apply=self.apply, tick_s=3600, **kw
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
    start: dt.datetime,
    place: Place,
    tmp_path: Path,
    *,
    count: int = 1,
    nominal_w: float | None = None,
    cabinet: bool = False,
) -> AsyncIterator[Street]:
    """``count`` luminaires ``lum-00`` ... on one DALI gateway; ``nominal_w``: each one's full power;
    ``cabinet``: their mains through the cabinet simulator's contactor ``cab`` and its fallback."""
    clock = NightClock(start)
    async with contextlib.AsyncExitStack() as stack:
        bank = LuminaireBankServer("127.0.0.1", 0, count=count, now=clock, nominal_w=nominal_w)
        lamps = await stack.enter_async_context(bank)
        buses = (
            f"  - {{name: dali-gw, kind: modbus_tcp, host: 127.0.0.1, port: {lamps.port}, "
            "timeout_s: 1.0,\n     devices: [{name: 'lum-{sa:02d}', profile: dali-gw-luminaire,"
            f" params: {{c: 0}}, repeat: {{sa: [0, {count - 1}]}}}}]}}\n"
        )
        cab = None
        if cabinet:
            relay = AstroRelay(place.latitude, place.longitude, lambda: clock.now_ms() / 1000)
            cab = await stack.enter_async_context(CabinetServer(fallback=relay, on_mains=lamps.mains))
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
            names = tuple(f"lum-{sa:02d}" for sa in range(count))
            yield Street(clock, lamps, executor, place, names, cab)
        finally:
            for d in drivers:
                await d.aclose()


@dataclass(frozen=True, slots=True)
class NightSaving:
    """One night of a program set on ``luminaires`` LED luminaires of ``led_w``, against the same number of
    ``baseline_w`` lamps at full power from dusk to dawn (the installation before the renovation)."""

    evening: dt.date
    luminaires: int
    led_w: float
    baseline_w: float
    used_wh: float  # the simulator's D4i energy counters over the night (standby included)
    dark_h: float  # sunset to sunrise

    @property
    def baseline_wh(self) -> float:
        return self.luminaires * self.baseline_w * self.dark_h

    @property
    def saving_pct(self) -> float:
        return 100.0 * (1.0 - self.used_wh / self.baseline_wh) if self.baseline_wh else 0.0


async def night_saving(
    pset: ProgramSet,
    place: Place,
    evening: dt.date,
    workdir: Path,
    *,
    count: int = 6,
    led_w: float = 60.0,
    baseline_w: float = 150.0,
) -> NightSaving:
    """Run the night of ``evening`` (noon to noon) in simulated time and read what the gear counted."""
    start = dt.datetime.combine(evening, dt.time(12), tzinfo=place.tz).astimezone(UTC)
    end = start + dt.timedelta(days=1)
    async with street_at(start, place, workdir, count=count, nominal_w=led_w) as street:
        before = sum(street.lamps.luminaire(i).state().energy_wh for i in range(count))
        await street.run_until(street.runner(pset), end)
        used = sum(street.lamps.luminaire(i).state().energy_wh for i in range(count)) - before
    dusk = solar_event(place, SolarEvent.SUNSET, start, end).at
    dawn = solar_event(place, SolarEvent.SUNRISE, start, end).at
    dark_h = (dawn - dusk).total_seconds() / 3600 if dusk is not None and dawn is not None else 0.0
    return NightSaving(evening, count, led_w, baseline_w, used, dark_h)
