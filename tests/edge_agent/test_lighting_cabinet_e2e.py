"""The cabinet through the real agent runtime (``lighting:`` with a device that takes ``switch``): no
program set, at a place where it is the middle of the night now (on the equator, at the longitude of
local midnight), so the default level runs dusk to dawn. The agent switches the contactor on through its
command path, the luminaires come up and are sent the default level; its ``_agent`` points say the mode
and the contactor. The agent stopped and the gateway dead, the fallback (an astronomical relay at that
place) holds the circuit: the street stays lit."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from configfile.secrets import write_secret
from edge_agent.config.load import load_config
from edge_agent.runtime import Agent
from harness.broker import Broker
from harness.commands import profiles_with_short_settle
from simulators.contactor.fallback import AstroRelay
from simulators.contactor.server import CabinetServer
from simulators.luminaire.bank import LuminaireBankServer
from tests.drivers.conftest import PROFILES
from tests.edge_agent.test_lighting_e2e import until
from wire.signing import new_key_texts


def midnight_now() -> tuple[float, str]:
    """A longitude where it is about local midnight now, and the IANA zone of that hour's offset."""
    now = dt.datetime.now(dt.UTC)
    longitude = (-(now.hour + now.minute / 60) * 15 + 180) % 360 - 180  # local solar time 00:00
    offset = round(longitude / 15)  # local = UTC + offset hours
    return longitude, "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX signs: GMT+5 = UTC-5


async def test_the_agent_switches_the_contactor_on_by_night_and_the_fallback_holds_it(
    broker: Broker, tmp_path: Path
) -> None:
    longitude, zone = midnight_now()
    centre_private, centre_line = new_key_texts("centre-k")
    write_secret(tmp_path / "centre-k.key", centre_private)
    gw_private, _ = new_key_texts("gw-k")
    write_secret(tmp_path / "gw-k.key", gw_private)
    caps = {"dali-gw-luminaire": 0.3, "cabinet-contactor": 0.3}
    profiles = profiles_with_short_settle(PROFILES, tmp_path / "profiles", caps)
    relay = AstroRelay(0.0, longitude, lambda: dt.datetime.now(dt.UTC).timestamp())
    async with LuminaireBankServer(count=2) as lamps, CabinetServer(fallback=relay) as cab:
        cab.cabinet.on_mains = lamps.mains
        assert cab.cabinet.update(), "the relay should say night at the longitude of local midnight"
        assert not cab.cabinet.output  # lit by the fallback alone, at the power-on level (100 %)
        agent_yaml = tmp_path / "agent.yaml"
        agent_yaml.write_text(
            f"gateway: gw\nsite: s\nbroker: {{host: 127.0.0.1, port: {broker.port}}}\n"
            f"buffer: {{path: {tmp_path / 'buffer.db'}, commit_interval_s: 0.05}}\n"
            f"status_socket: {tmp_path / 'agent.sock'}\nprofile_paths: [{profiles}]\n"
            f"location: {{latitude: 0.0, longitude: {longitude}}}\n"
            "commands:\n  key_id: gw-k\n  key_file: gw-k.key\n"
            f'  centre_keys: {{centre-k: "{centre_line.split(": ", 1)[1]}"}}\n'
            f"  ledger: {tmp_path / 'commands.db'}\n"
            f"lighting: {{timezone: {zone}, store: {tmp_path / 'lighting.db'}, tick_s: 1,\n"
            "           default_level: 90, clock_sync: assume, faults: {switched_mains: true}}\n"
            "buses:\n"
            f"  - {{name: dali-gw, kind: modbus_tcp, host: 127.0.0.1, port: {lamps.port}, timeout_s: 0.5,\n"
            "     devices: [{name: 'lum-0{sa}', profile: dali-gw-luminaire, poll_interval_s: 5,\n"
            "                params: {c: 0}, repeat: {sa: [0, 1]}}]}\n"
            f"  - {{name: cabinet, kind: modbus_tcp, host: 127.0.0.1, port: {cab.port}, timeout_s: 0.5,\n"
            "     devices: [{name: cab, profile: cabinet-contactor, poll_interval_s: 5}]}\n"
        )
        agent = await Agent.build(load_config(agent_yaml))
        assert agent.lighting is not None
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        try:
            await until(lambda: cab.cabinet.output, "the contactor switched on by the agent")
            levels = [lamps.luminaire(sa).state().level_percent for sa in (0, 1)]
            await until(
                lambda: all(abs(lamps.luminaire(sa).state().level_percent - 90) <= 1 for sa in (0, 1)),
                f"both luminaires at the default level (they are at {levels})",
            )
            points = {r.point: r.value for r in await agent.health.report()}
            assert points["lighting.mode"] == "default_dusk_to_dawn"
            assert points["lighting.program_version"] == 0
            assert points["lighting.mains"] is True
            assert points["lighting.clock_trusted"] is True
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
        cab.cabinet.dead_gateway()  # the agent is gone, its module's output drops
        assert cab.cabinet.update()  # the fallback holds the circuit by night
        assert all(lamps.luminaire(sa).mains for sa in (0, 1))
        assert abs(lamps.luminaire(0).state().level_percent - 90) <= 1  # no power cycle: the level stays
