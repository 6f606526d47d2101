"""The command executor against the simulators as real servers: a luminaire behind the DALI-to-Modbus
gateway, a bollard site (its command mailbox) and a traffic controller (OPC-UA methods), loaded through
the agent's config with the shipped profiles. The simulators and the executor share one clock the test
steps: the executor's settle wait moves the devices' time on (and gives the OPC-UA server a moment of
real time to publish its new values)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from configfile.secrets import write_secret
from drivers.base import Driver
from drivers.scheduler import BusScheduler
from edge_agent.commands.executor import Executor
from edge_agent.commands.targets import Location
from edge_agent.commands.wiring import CommandPath, command_targets
from edge_agent.config.load import load_config
from edge_agent.outbox.store import Outbox
from edge_agent.poll.build import build_driver
from mqtt_session import MqttLink
from simulators.bollard.server import BollardSiteServer
from simulators.luminaire.bank import LuminaireBankServer
from simulators.luminaire.model import Fault
from simulators.traffic.controller import TrafficController
from simulators.traffic.server import TrafficControllerServer
from tests.drivers.conftest import PROFILES, until
from wire.commands import Command, CommandResult, ResultState
from wire.errors import UnknownAction
from wire.points import Value
from wire.signing import new_key_texts

WALL_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC: night in Dijon
DIJON = Location(47.32, 5.04)
SECURITY_CODE = "4711"


class SimClock:
    """The executor's clock (edge_agent.clock.Clock) and the simulators' ``now``: a sleep moves both on
    at once, then lets real time pass briefly (the OPC-UA server publishes its values every 50 ms).
    ``gate``: while clear, a sleep waits for it after moving time on (a command held in its settle)."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.gate = asyncio.Event()
        self.gate.set()

    def __call__(self) -> float:
        return self.t

    def now_ms(self) -> int:
        return WALL_MS + round((self.t - 1000.0) * 1000)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await asyncio.sleep(0.3)
        await self.gate.wait()


@dataclass
class Rig:
    clock: SimClock
    lamps: LuminaireBankServer
    site: BollardSiteServer
    tlc: TrafficControllerServer
    drivers: list[Driver]
    config: Path

    def executor(self, location: Location | None = DIJON) -> Executor:
        resolved = load_config(self.config)
        return Executor(
            gateway="cab-0042",
            key_id="cab-0042-k",
            targets=command_targets(resolved.buses, self.drivers),
            clock=self.clock,
            location=location,
            secrets=resolved.config.secrets,
        )


def write_config(tmp_path: Path, lamps: int, site: int, tlc: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(
        f"""
gateway: cab-0042
site: dijon-centre
profile_paths: [{PROFILES}]
location: {{latitude: 47.32, longitude: 5.04}}
secrets: {{security_code: "{SECURITY_CODE}"}}
buses:
  - name: dali-gw
    kind: modbus_tcp
    host: 127.0.0.1
    port: {lamps}
    timeout_s: 1.0
    devices:
      - {{name: lum-0, profile: dali-gw-luminaire, params: {{c: 0, sa: 0}}}}
      - {{name: lum-5, profile: dali-gw-luminaire, params: {{c: 0, sa: 5}}}}
  - name: access
    kind: modbus_tcp
    host: 127.0.0.1
    port: {site}
    timeout_s: 1.0
    devices:
      - {{name: site-7, profile: bollard-site, unit: 1}}
  - name: tlc-bus
    kind: opcua
    endpoint: {tlc}
    timeout_s: 2.0
    devices:
      - {{name: tlc-1, profile: traffic-controller, params: {{id: 1, signal_groups: 5, detectors: 4}}}}
"""
    )
    return path


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = SimClock()
    model = TrafficController(now=clock, security_code=SECURITY_CODE)
    clock.t += 10  # past the controller's start-up
    async with (
        LuminaireBankServer("127.0.0.1", 0, count=1, now=clock) as lamps,
        BollardSiteServer("127.0.0.1", 0, count=1, now=clock) as site,
        TrafficControllerServer(model, port=0, refresh_s=0.05) as tlc,
    ):
        config = write_config(tmp_path, lamps.port, site.port, tlc.endpoint)
        resolved = load_config(config)
        drivers = [build_driver(bus, BusScheduler(bus.name)) for bus in resolved.buses]
        try:
            yield Rig(clock, lamps, site, tlc, drivers, config)
        finally:
            for d in drivers:
                await d.aclose()


def command(clock: SimClock, device: str, action: str, args: Mapping[str, Value] | None = None) -> Command:
    now = clock.now_ms()
    return Command(
        id=uuid.uuid4(),
        gateway="cab-0042",
        device=device,
        action=action,
        args=dict(args or {}),
        issued_at_ms=now,
        expires_at_ms=now + 30_000,
        issuer="test",
        key_id="centre-k",
    )


async def run(ex: Executor, clock: SimClock, device: str, action: str, **args: Value) -> CommandResult:
    return await ex.run(command(clock, device, action, args))


def read_back(result: CommandResult) -> dict[str, Value]:
    return {r.point: r.value for r in result.read_back}


async def test_a_luminaire_set_level_is_done_with_its_read_back(rig: Rig) -> None:
    ex = rig.executor()
    result = await run(ex, rig.clock, "lum-0", "set_level", level=60)
    assert (result.state, result.reason) == (ResultState.DONE, None)
    assert read_back(result)["level"] == pytest.approx(60, abs=1)
    assert result.read_back[0].ts_ms == rig.clock.now_ms()


async def test_the_bollards_lower_and_a_raise_over_an_occupied_loop_is_refused_untouched(rig: Rig) -> None:
    ex = rig.executor()
    lowered = await run(ex, rig.clock, "site-7", "lower")
    assert lowered.state is ResultState.DONE, lowered.reason
    assert read_back(lowered) == {"last_processed_sequence": 1, "command_result": "ok", "state": "down"}
    rig.site.site.set_loop(0, True)
    mailbox, requests = list(rig.site.map.mailbox), rig.site.requests
    raised = await run(ex, rig.clock, "site-7", "raise")
    assert raised.state is ResultState.REFUSED
    assert raised.reason is not None
    assert raised.reason.startswith("interlock 'loops_clear': loop_1_occupied is True")
    assert rig.site.map.mailbox == mailbox  # nothing written: the mailbox is as the lower left it
    assert rig.site.requests == requests + 3  # the fresh read's three requests, no write
    assert rig.site.site.reading().state.name.lower() == "down"


async def test_maintenance_refuses_all_but_the_emergency_lower(rig: Rig) -> None:
    ex = rig.executor()
    ex.set_maintenance("site-7", True)
    refused = await run(ex, rig.clock, "site-7", "lower")
    assert refused.state is ResultState.REFUSED
    assert "'maintenance_mode'" in str(refused.reason)
    emergency = await run(ex, rig.clock, "site-7", "emergency_lower")
    assert emergency.state is ResultState.DONE, emergency.reason
    assert read_back(emergency)["state"] == "emergency_down"
    assert rig.site.site.reading().emergency


async def test_the_sequence_follows_what_the_device_processed(rig: Rig) -> None:
    rig.site.map.write_holding(100, [6, 0, 41])  # someone else's reset, sequence 41
    ex = rig.executor()
    result = await run(ex, rig.clock, "site-7", "lower")
    assert result.state is ResultState.DONE, result.reason
    assert read_back(result)["last_processed_sequence"] == 42


async def test_an_emergency_pre_empts_the_commands_waiting_for_the_device(rig: Rig) -> None:
    ex = rig.executor()
    rig.clock.gate.clear()  # the first command holds the device in its settle
    first = asyncio.create_task(run(ex, rig.clock, "site-7", "hold_down", seconds=0))
    await until(lambda: rig.site.map.mailbox[4] == 1, "the first command's write in the mailbox")
    waiting = asyncio.create_task(run(ex, rig.clock, "site-7", "release_hold"))
    await asyncio.sleep(0.1)
    emergency = asyncio.create_task(run(ex, rig.clock, "site-7", "emergency_lower"))
    pre_empted = await asyncio.wait_for(waiting, 10)
    assert pre_empted.state is ResultState.FAILED
    assert str(pre_empted.reason).startswith("pre-empted by emergency emergency_lower")
    # the emergency goes to the bus while the first command still holds the device
    await until(lambda: rig.site.map.mailbox[4] == 2, "the emergency's write in the mailbox")
    rig.clock.gate.set()
    done = await asyncio.wait_for(emergency, 10)
    assert done.state is ResultState.DONE, done.reason
    cut_short = await asyncio.wait_for(first, 10)
    assert cut_short.state is ResultState.FAILED
    assert cut_short.reason is not None
    assert cut_short.reason.startswith("unconfirmed: last_processed_sequence is 2, expected 1")


async def test_a_read_back_that_does_not_show_the_level_is_unconfirmed(rig: Rig) -> None:
    rig.lamps.inject(0, Fault.LAMP)  # the gear takes the setpoint, no light comes out
    ex = rig.executor()
    result = await run(ex, rig.clock, "lum-0", "set_level", level=70)
    assert result.state is ResultState.FAILED
    assert result.reason == "unconfirmed: level is 0, expected 70"
    assert read_back(result)["level"] == 0


async def test_a_device_error_fails_the_command_with_its_reason(rig: Rig) -> None:
    ex = rig.executor()  # lum-5: short address 5 on a gateway that serves one luminaire
    result = await run(ex, rig.clock, "lum-5", "set_level", level=50)
    assert result.state is ResultState.FAILED
    assert result.reason == "lum-5: modbus exception 2 (illegal address) writing holding 515+1"


async def test_an_unreachable_device_fails_before_anything_is_written(rig: Rig) -> None:
    ex = rig.executor()
    await rig.lamps.stop()
    result = await run(ex, rig.clock, "lum-0", "set_level", level=50)
    assert result.state is ResultState.FAILED
    assert str(result.reason).startswith("fresh read: lum-0: ")


async def test_without_a_location_a_night_floor_refuses_unless_overridden(rig: Rig) -> None:
    ex = rig.executor(location=None)
    refused = await run(ex, rig.clock, "lum-0", "set_level", level=10)
    assert refused.state is ResultState.REFUSED
    assert refused.reason == "interlock 'night_floor': no location configured: night cannot be told from day"
    overridden = await run(ex, rig.clock, "lum-0", "set_level", level=10, below_floor=True)
    assert overridden.state is ResultState.DONE, overridden.reason


async def test_at_night_the_floor_refuses_a_low_level(rig: Rig) -> None:
    ex = rig.executor()
    refused = await run(ex, rig.clock, "lum-0", "set_level", level=10)
    assert refused.state is ResultState.REFUSED
    assert str(refused.reason).startswith("interlock 'night_floor': level 10")


async def test_a_traffic_controller_time_plan_by_its_method(rig: Rig) -> None:
    ex = rig.executor()
    result = await run(ex, rig.clock, "tlc-1", "set_time_plan", plan=2)
    assert result.state is ResultState.DONE, result.reason
    assert read_back(result) == {"plan": 2, "plan_source": "forced"}
    assert rig.tlc.model.snapshot().plan == 2


def test_unknown_devices_and_actions_are_refused_for_their_ttl(rig: Rig) -> None:
    ex = rig.executor()
    assert ex.max_ttl_ms("site-7", "lower") == 30_000
    assert ex.max_ttl_ms("tlc-1", "set_time_plan") == 300_000
    with pytest.raises(UnknownAction, match="no device 'nope'"):
        ex.max_ttl_ms("nope", "lower")
    with pytest.raises(UnknownAction, match="no action 'fly'"):
        ex.max_ttl_ms("site-7", "fly")


async def test_the_command_path_has_every_device_with_actions_and_feeds_the_controllers(
    rig: Rig, tmp_path: Path
) -> None:
    private, _ = new_key_texts("cab-0042-k")
    write_secret(tmp_path / "cab.key", private)
    centre_public = new_key_texts("centre-k")[1].split(": ", 1)[1]
    with rig.config.open("a") as f:
        f.write(
            f"commands:\n  key_id: cab-0042-k\n  key_file: cab.key\n  ledger: {tmp_path / 'ledger.db'}\n"
            f'  centre_keys: {{centre-k: "{centre_public}"}}\n'
        )
    outbox = await Outbox.open(tmp_path / "outbox.db", gateway="cab-0042", clock=rig.clock, max_messages=10)
    path = await CommandPath.build(
        load_config(rig.config),
        link=MqttLink(client_id="unused", host="127.0.0.1", port=1),
        results=outbox,
        drivers=rig.drivers,
        last_heard=rig.clock.monotonic,  # just heard from the centre
        clock=rig.clock,
    )
    try:
        assert path is not None
        assert path.executor.devices == ("lum-0", "lum-5", "site-7", "tlc-1")
        assert path.feeder is not None
        await path.feeder.feed_once()
        assert path.feeder.fed == 1  # the controller's Heartbeat method took it
    finally:
        if path is not None:
            await path.close()
        await outbox.close()
