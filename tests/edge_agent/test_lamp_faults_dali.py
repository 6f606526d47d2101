"""The same fault monitor over a DALI line (the DALI serial driver against the simulated Lunatone LUBA
interface on a pseudo-terminal): the gear's own status byte, memory banks 205/206 and silence on the
bus give the lamp failure, the supply loss and the control-gear communication failure."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers.dali.client import DaliSerialDriver
from drivers.dali.config import DaliDeviceSpec, DaliSerialLink, Quantity, resolve_devices
from drivers.errors import DeviceUnreachable
from edge_agent.clock import ManualClock
from edge_agent.config.faults import FaultsConfig
from edge_agent.lighting.faults import FaultMonitor
from edge_agent.outbox.store import Outbox
from lighting.night import dusk_to_dawn
from simulators.dali.lunatone import DaliSerialSim
from simulators.luminaire.model import Fault, Luminaire
from tests.drivers.conftest import SteppedClock
from tests.lighting.sets import DIJON
from wire.events import Event, EventKind, FaultName, decode_event, encode_event
from wire.outbox import decode_frame
from wire.topics import TopicKind

Q = Quantity
POINTS = (Q.STATUS, Q.LEVEL, Q.LED_FAILURE, Q.START_COUNTER, Q.SUPPLY_VOLTAGE, Q.LIGHT_SOURCE_FAILURE)
NIGHT_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC: night in Dijon


@pytest.fixture
async def sim() -> AsyncIterator[DaliSerialSim]:
    async with DaliSerialSim(count=1, now=SteppedClock()) as s:
        yield s


class Line:
    def __init__(
        self, sim: DaliSerialSim, driver: DaliSerialDriver, monitor: FaultMonitor, outbox: Outbox
    ) -> None:
        self.sim, self.driver, self.monitor, self.outbox = sim, driver, monitor, outbox
        self.ts_ms = NIGHT_MS
        self._read = 0

    @property
    def lamp(self) -> Luminaire:
        return self.sim.gear(0).luminaire

    async def poll(self) -> list[Event]:
        """Read lum-0 through the driver, a minute after the last poll; the events this poll made."""
        self.ts_ms += 60_000
        try:
            read = await self.driver.read("lum-0")
        except DeviceUnreachable as exc:  # a gear that does not answer QUERY STATUS: as the poller does
            await self.monitor.observe_unreachable("lum-0", self.ts_ms, exc.reason)
        else:
            values = {v.point: v.value if v.error is None else None for v in read}
            await self.monitor.observe("lum-0", values, self.ts_ms)
        pending = await self.outbox.pending()
        new = [decode_event(decode_frame(m.payload).body) for m in pending[self._read :]]
        self._read = len(pending)
        return new


@pytest.fixture
async def line(sim: DaliSerialSim, tmp_path: Path) -> AsyncIterator[Line]:
    spec = DaliDeviceSpec(name="lum-0", short_address=0, points=POINTS)
    link = DaliSerialLink.model_validate({"kind": "dali_serial", "port": sim.path})
    driver = DaliSerialDriver("line", link, resolve_devices((spec,)))
    outbox = await Outbox.open(
        tmp_path / "outbox.db", gateway="cab-0042", clock=ManualClock(), max_messages=100
    )

    async def report(event: Event) -> None:
        await outbox.put(TopicKind.EVENT, encode_event(event))

    monitor = FaultMonitor(
        config=FaultsConfig(comm_failure_after_polls=2, ramp_grace_s=0),
        place=DIJON,
        wanted=lambda device, at: 100,
        report=report,
    )
    try:
        yield Line(sim, driver, monitor, outbox)
    finally:
        await driver.aclose()
        await outbox.close()


def kinds(events: list[Event]) -> list[tuple[EventKind, object]]:
    return [(e.kind, e.details["fault"]) for e in events]


async def test_lamp_failure_over_dali(line: Line) -> None:
    assert await line.poll() == []
    line.lamp.inject(Fault.LAMP)
    (raised,) = await line.poll()
    assert kinds([raised]) == [(EventKind.FAULT_RAISED, FaultName.LAMP_FAILURE)]
    assert raised.at_ms == line.ts_ms
    line.lamp.inject(Fault.NONE)
    assert kinds(await line.poll()) == [(EventKind.FAULT_CLEARED, FaultName.LAMP_FAILURE)]


async def test_supply_loss_over_dali(line: Line) -> None:
    assert await line.poll() == []
    line.lamp.set_mains(False)  # the gear's interface answers on the bus's power: bank 205 says 0 V
    (raised,) = await line.poll()
    assert kinds([raised]) == [(EventKind.FAULT_RAISED, FaultName.SUPPLY_LOSS)]
    assert raised.details["supply_voltage"] == 0
    line.lamp.set_mains(True)
    assert kinds(await line.poll()) == [(EventKind.FAULT_CLEARED, FaultName.SUPPLY_LOSS)]


async def test_gear_comm_failure_over_dali(line: Line) -> None:
    assert await line.poll() == []
    line.lamp.silent = True  # no backward frame on the bus
    assert await line.poll() == []
    (raised,) = await line.poll()
    assert kinds([raised]) == [(EventKind.FAULT_RAISED, FaultName.GEAR_COMM_FAILURE)]
    assert raised.details["since_ms"] == line.ts_ms - 60_000
    assert "did not answer" in str(raised.details["reason"])
    line.lamp.silent = False
    (cleared,) = await line.poll()
    assert kinds([cleared]) == [(EventKind.FAULT_CLEARED, FaultName.GEAR_COMM_FAILURE)]
    assert cleared.details["restarted"] is False


def test_the_polls_are_at_night() -> None:  # what the monitor's day burner and sun rely on here
    assert dusk_to_dawn(dt.datetime.fromtimestamp(NIGHT_MS / 1000, dt.UTC), DIJON).night
