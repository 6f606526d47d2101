"""Lamp and behaviour faults at the edge (:mod:`edge_agent.lighting.faults`), each injected in the
luminaire simulator (a real Modbus server: the DALI-to-Modbus gateway) on a simulated night in Dijon:
the lighting runner commands the program's levels through the executor, the poller reads the lamp
through the real driver, the monitor judges each poll and its events go through the real outbox, from
which the test reads them back as the centre would decode them."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from drivers.base import Driver
from drivers.scheduler import BusScheduler
from edge_agent.buffer.store import Buffer
from edge_agent.commands.executor import Executor
from edge_agent.commands.targets import Location
from edge_agent.commands.wiring import command_targets
from edge_agent.config.faults import FaultsConfig
from edge_agent.config.load import load_config
from edge_agent.lighting.faults import FaultMonitor
from edge_agent.lighting.runner import LightingRunner
from edge_agent.outbox.store import Outbox
from edge_agent.poll.build import build_driver
from edge_agent.poll.poller import DevicePoller
from lighting.night import switches_between
from simulators.luminaire.bank import LuminaireBankServer
from simulators.luminaire.model import Fault, GearSettings, Luminaire
from tests.drivers.conftest import PROFILES
from tests.edge_agent.lighting_street import NightClock, Street, local, noaa
from tests.lighting.sets import DIJON, program_set
from wire.events import Event, EventKind, FaultName, decode_event, encode_event
from wire.outbox import decode_frame
from wire.points import Quality, Reading
from wire.topics import TopicKind

JAN_12 = dt.date(2027, 1, 12)
MORNING = JAN_12 + dt.timedelta(days=1)
RAISED, CLEARED = EventKind.FAULT_RAISED, EventKind.FAULT_CLEARED
CONFIG = FaultsConfig(cycling_max_starts=3, cycling_window_min=10, comm_failure_after_polls=2)


@dataclass
class Rig:
    """One luminaire (lum-00) on the street, its program run by the runner, polled on demand."""

    clock: NightClock
    lamps: LuminaireBankServer
    runner: LightingRunner
    poller: DevicePoller
    monitor: FaultMonitor
    outbox: Outbox
    polled_ms: int = 0
    _read: int = 0
    events: list[Event] = field(default_factory=list)

    @property
    def lamp(self) -> Luminaire:
        return self.lamps.luminaire(0)

    async def poll_at(self, when: dt.datetime) -> list[Event]:
        """Move time on to ``when``, let the runner send what the program wants, poll, judge; returns the
        events this poll put in the outbox."""
        assert when >= self.clock.now(), (when, self.clock.now())
        self.clock.t += (when - self.clock.now()).total_seconds()
        await self.runner.evaluate()
        readings = await self.poller.poll_once()
        self.polled_ms = readings[0].ts_ms
        await self.monitor.observe_readings(readings)
        pending = await self.outbox.pending()
        new = [decode_event(decode_frame(m.payload).body) for m in pending[self._read :]]
        self._read = len(pending)
        self.events += new
        return new


async def report_to(outbox: Outbox, event: Event) -> None:
    await outbox.put(TopicKind.EVENT, encode_event(event))


@pytest.fixture
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    config: FaultsConfig = getattr(request, "param", CONFIG)
    clock = NightClock(local(DIJON, JAN_12, 17, 0))
    async with LuminaireBankServer("127.0.0.1", 0, count=1, now=clock) as lamps:
        path = tmp_path / "agent.yaml"
        path.write_text(
            f"gateway: cab-0042\nsite: s\nprofile_paths: [{PROFILES}]\n"
            f"location: {{latitude: {DIJON.latitude}, longitude: {DIJON.longitude}}}\n"
            f"buses:\n  - {{name: dali-gw, kind: modbus_tcp, host: 127.0.0.1, port: {lamps.port}, "
            "timeout_s: 1.0,\n     devices: [{name: lum-00, profile: dali-gw-luminaire,"
            " params: {c: 0, sa: 0}}]}\n"
        )
        resolved = load_config(path)
        drivers: list[Driver] = [build_driver(b, BusScheduler(b.name)) for b in resolved.buses]
        buffer = await Buffer.open(
            tmp_path / "buffer.db", gateway="cab-0042", clock=clock, commit_interval_s=0
        )
        outbox = await Outbox.open(tmp_path / "outbox.db", gateway="cab-0042", clock=clock, max_messages=100)
        try:
            executor = Executor(
                gateway="cab-0042",
                key_id="cab-0042-k",
                targets=command_targets(resolved.buses, drivers),
                clock=clock,
                location=Location(DIJON.latitude, DIJON.longitude),
            )
            runner = Street(clock, lamps, executor, DIJON).runner(program_set())
            (device,) = resolved.buses[0].devices
            poller = DevicePoller(
                driver=drivers[0],
                device="lum-00",
                points=[p.name for p in device.points],
                interval_s=300,
                offset_s=0,
                buffer=buffer,
                clock=clock,
            )
            monitor = FaultMonitor(
                config=config,
                place=DIJON,
                wanted=lambda d, at: runner.order_for(d, at).level,
                report=lambda e: report_to(outbox, e),
            )
            yield Rig(clock, lamps, runner, poller, monitor, outbox)
        finally:
            await outbox.close()
            await buffer.close()
            for d in drivers:
                await d.aclose()


def one(events: list[Event], kind: EventKind, fault: FaultName, at_ms: int) -> Event:
    """The only event of the poll: ``kind`` of ``fault`` on lum-00, timed by the poll."""
    assert [(e.kind, e.device, e.details["fault"]) for e in events] == [(kind, "lum-00", fault)], events
    assert events[0].at_ms == at_ms
    return events[0]


async def test_lamp_failure_is_raised_and_cleared(rig: Rig) -> None:
    assert await rig.poll_at(local(DIJON, JAN_12, 22, 30)) == []  # 80 %, as the program wants
    rig.lamps.inject(0, Fault.LAMP)
    e = one(await rig.poll_at(local(DIJON, JAN_12, 22, 40)), RAISED, FaultName.LAMP_FAILURE, rig.polled_ms)
    raised_ms = rig.polled_ms
    assert e.details["status"] == 0x02  # lamp failure, not lit
    assert (e.details["led_failure"], e.details["light_source_failure"], e.details["gear_failure"]) == (
        2,
        5,
        False,
    )
    assert await rig.poll_at(local(DIJON, JAN_12, 22, 50)) == []  # raised once, not at every poll
    rig.lamps.inject(0, Fault.NONE)
    e = one(await rig.poll_at(local(DIJON, JAN_12, 23, 0)), CLEARED, FaultName.LAMP_FAILURE, rig.polled_ms)
    assert e.details["raised_at_ms"] == raised_ms
    assert rig.monitor.active("lum-00") == {}


async def test_a_device_without_a_status_is_not_judged(rig: Rig) -> None:
    ts = rig.clock.now_ms()
    await rig.monitor.observe_readings([Reading("site-7", "loop_1", ts, None, Quality.BAD, "exception 2")])
    await rig.monitor.observe_readings([Reading("site-7", "online", ts, False, Quality.GOOD, "no answer")])
    assert (rig.monitor.raised, rig.monitor.active("site-7")) == (0, {})


async def test_a_dead_gear_is_a_lamp_failure_of_its_gear(rig: Rig) -> None:
    rig.lamps.inject(0, Fault.BALLAST)
    e = one(await rig.poll_at(local(DIJON, JAN_12, 19, 0)), RAISED, FaultName.LAMP_FAILURE, rig.polled_ms)
    assert e.details["gear_failure"] is True
    assert e.details["light_source_failure"] is None  # MASK: the gear answers no memory-bank query


async def test_dimming_failure_is_judged_after_the_ramp_and_cleared(rig: Rig) -> None:
    assert await rig.poll_at(local(DIJON, JAN_12, 23, 0)) == []
    rig.lamp.settings = GearSettings(max_level=200)  # the gear holds at arc 200 (≈ 23 %): a bad MAX LEVEL
    assert await rig.poll_at(local(DIJON, JAN_12, 23, 10)) == []  # still at 80 %: nothing commanded since
    # 00:30: the program steps to 50 %; the gear clamps it. The poll a minute later is within the ramp's
    # grace: not judged yet.
    assert await rig.poll_at(local(DIJON, MORNING, 0, 31)) == []
    assert round(rig.lamp.state().level_percent) == 23
    e = one(await rig.poll_at(local(DIJON, MORNING, 0, 40)), RAISED, FaultName.DIMMING_FAILURE, rig.polled_ms)
    got = e.details
    assert (got["level_read"], got["level_commanded"], got["tolerance_pct"]) == (23, 50, 10.0)
    rig.lamp.settings = GearSettings()  # fixed; the runner tries 50 % again (retry_s after the failure)
    e = one(
        await rig.poll_at(local(DIJON, MORNING, 0, 50)), CLEARED, FaultName.DIMMING_FAILURE, rig.polled_ms
    )
    assert e.details["level_read"] in {49, 50, 51}  # the gateway rounds the curve's percent


async def test_cycling_is_more_than_n_starts_in_m_minutes(rig: Rig) -> None:
    assert await rig.poll_at(local(DIJON, JAN_12, 18, 0)) == []  # 100 %: a power cycle keeps the level
    for _ in range(3):
        rig.lamp.power_cycle()
    assert await rig.poll_at(local(DIJON, JAN_12, 18, 2)) == []  # 3 starts: not more than 3
    rig.lamp.power_cycle()
    e = one(await rig.poll_at(local(DIJON, JAN_12, 18, 4)), RAISED, FaultName.CYCLING, rig.polled_ms)
    assert (e.details["starts_in_window"], e.details["max_starts"], e.details["window_min"]) == (4, 3, 10.0)
    assert e.details["start_counter"] == 5
    assert await rig.poll_at(local(DIJON, JAN_12, 18, 11)) == []  # 18:02's three starts still in the window
    e = one(await rig.poll_at(local(DIJON, JAN_12, 18, 13)), CLEARED, FaultName.CYCLING, rig.polled_ms)
    assert e.details["starts_in_window"] == 1


async def test_day_burner_is_lit_while_the_program_wants_it_off_by_day(rig: Rig) -> None:
    assert await rig.poll_at(local(DIJON, MORNING, 6, 0)) == []
    rig.lamp.settings = GearSettings(fade_time=15)  # a 90 s fade
    *_, off = switches_between(
        program_set(), "lum-00", local(DIJON, MORNING, 6, 0), local(DIJON, MORNING, 12, 0), DIJON
    )
    assert off.level == 0
    assert await rig.poll_at(off.at + dt.timedelta(seconds=1)) == []  # fading out: the ramp's grace
    assert rig.lamp.state().arc > 0
    assert await rig.poll_at(off.at + dt.timedelta(minutes=5)) == []  # the program turned it off
    assert rig.lamp.state().arc == 0
    rig.lamp.settings = GearSettings()
    assert await rig.poll_at(off.at + dt.timedelta(minutes=10)) == []  # the runner confirms its 0 %
    rig.lamp.power_cycle()  # the mains contactor closes by day: the gear lights at its power-on level
    e = one(await rig.poll_at(local(DIJON, MORNING, 11, 0)), RAISED, FaultName.DAY_BURNER, rig.polled_ms)
    assert (e.details["level_read"], e.details["level_commanded"]) == (100, 0)
    rig.lamp.set_arc(0)
    e = one(await rig.poll_at(local(DIJON, MORNING, 11, 10)), CLEARED, FaultName.DAY_BURNER, rig.polled_ms)
    assert e.details["level_read"] == 0


async def test_supply_loss_is_raised_and_cleared_and_says_the_darkness(rig: Rig) -> None:
    assert await rig.poll_at(local(DIJON, JAN_12, 19, 0)) == []
    rig.lamp.set_mains(False)  # the pole's fuse: the gear reports 0 V, dark (no dimming failure besides)
    e = one(await rig.poll_at(local(DIJON, JAN_12, 19, 10)), RAISED, FaultName.SUPPLY_LOSS, rig.polled_ms)
    assert (e.details["supply_voltage"], e.details["supply_min_v"]) == (0.0, 170.0)
    assert await rig.poll_at(local(DIJON, JAN_12, 19, 20)) == []
    rig.lamp.set_mains(True)  # back, at the power-on level (100 %: what the program wants until 22:00)
    e = one(await rig.poll_at(local(DIJON, JAN_12, 19, 30)), CLEARED, FaultName.SUPPLY_LOSS, rig.polled_ms)
    volts = e.details["supply_voltage"]
    assert isinstance(volts, float)
    assert volts > 220


async def test_gear_comm_failure_after_n_polls_unanswered(rig: Rig) -> None:
    assert await rig.poll_at(local(DIJON, JAN_12, 19, 0)) == []
    rig.lamp.silent = True  # the gateway gets no answer from the gear: exception 11 for its registers
    assert await rig.poll_at(local(DIJON, JAN_12, 19, 5)) == []  # one poll: not yet
    first_ms = rig.polled_ms
    e = one(
        await rig.poll_at(local(DIJON, JAN_12, 19, 10)), RAISED, FaultName.GEAR_COMM_FAILURE, rig.polled_ms
    )
    assert (e.details["polls_unanswered"], e.details["since_ms"]) == (2, first_ms)
    assert "exception 11" in str(e.details["reason"])
    assert await rig.poll_at(local(DIJON, JAN_12, 19, 15)) == []
    rig.lamp.silent = False
    e = one(
        await rig.poll_at(local(DIJON, JAN_12, 19, 20)), CLEARED, FaultName.GEAR_COMM_FAILURE, rig.polled_ms
    )
    assert (e.details["polls_unanswered"], e.details["restarted"]) == (3, False)


async def test_a_gear_without_mains_and_interface_is_silent_and_restarts(rig: Rig) -> None:
    rig.lamp.answers_without_mains = False
    assert await rig.poll_at(local(DIJON, JAN_12, 19, 0)) == []
    rig.lamp.set_mains(False)
    assert await rig.poll_at(local(DIJON, JAN_12, 19, 5)) == []
    one(await rig.poll_at(local(DIJON, JAN_12, 19, 10)), RAISED, FaultName.GEAR_COMM_FAILURE, rig.polled_ms)
    rig.lamp.set_mains(True)
    e = one(
        await rig.poll_at(local(DIJON, JAN_12, 19, 20)), CLEARED, FaultName.GEAR_COMM_FAILURE, rig.polled_ms
    )
    assert e.details["restarted"] is True  # its start counter moved on: it lost its supply


SWITCHED = FaultsConfig(switched_mains=True, comm_failure_after_polls=1)


@pytest.mark.parametrize("rig", [SWITCHED], indirect=True)
async def test_switched_mains_off_by_day_is_no_fault(rig: Rig) -> None:
    sunrise = noaa(DIJON, MORNING, "sunrise")
    assert await rig.poll_at(local(DIJON, MORNING, 6, 0)) == []
    assert await rig.poll_at(sunrise + dt.timedelta(minutes=20)) == []
    rig.lamp.set_mains(False)  # the cabinet opens its contactor after dawn: 0 V, as it should
    assert await rig.poll_at(local(DIJON, MORNING, 10, 0)) == []
    rig.lamp.answers_without_mains = False  # nor is silence a fault by day
    assert await rig.poll_at(local(DIJON, MORNING, 11, 0)) == []
    assert rig.events == []


async def test_an_event_the_full_outbox_refuses_is_tried_again_at_the_next_poll(rig: Rig) -> None:
    assert await rig.poll_at(local(DIJON, JAN_12, 22, 30)) == []
    filler = Event(EventKind.COMMAND_STARTED, "lum-00", rig.polled_ms)
    while rig.outbox.full_reason() is None:
        await rig.outbox.put(TopicKind.EVENT, encode_event(filler))
    rig._read = len(await rig.outbox.pending())
    rig.lamps.inject(0, Fault.LAMP)
    assert await rig.poll_at(local(DIJON, JAN_12, 22, 40)) == []
    assert (rig.monitor.refused, rig.monitor.active("lum-00")) == (1, {})
    await rig.outbox.ack([m.key.seq for m in await rig.outbox.pending()])
    rig._read = 0
    one(await rig.poll_at(local(DIJON, JAN_12, 22, 50)), RAISED, FaultName.LAMP_FAILURE, rig.polled_ms)
    assert rig.monitor.active("lum-00") == {FaultName.LAMP_FAILURE: rig.polled_ms}


async def test_a_dali_gateway_that_does_not_answer_is_a_gear_comm_failure_too(rig: Rig) -> None:
    assert await rig.poll_at(local(DIJON, JAN_12, 19, 0)) == []
    await rig.lamps.stop()  # the DALI-to-Modbus gateway is gone: no answer at all
    try:
        assert await rig.poll_at(local(DIJON, JAN_12, 19, 5)) == []
        e = one(
            await rig.poll_at(local(DIJON, JAN_12, 19, 10)),
            RAISED,
            FaultName.GEAR_COMM_FAILURE,
            rig.polled_ms,
        )
        assert e.details["polls_unanswered"] == 2
        assert "cannot connect" in str(e.details["reason"])
    finally:
        await rig.lamps.start()  # the same port
    e = one(
        await rig.poll_at(local(DIJON, JAN_12, 19, 15)), CLEARED, FaultName.GEAR_COMM_FAILURE, rig.polled_ms
    )
    assert e.details["restarted"] is False
