"""Lighting from the centre, end to end: the real agent runtime (with ``lighting:``) on a real Mosquitto
with the luminaire simulator, the real collector storing what the agent's outbox sends, and the
operator's CLI (`collector lighting ...`, `collector command send`) as subprocesses.

Push (the street goes to the level the set wants now, the version is reported), a bad file refused at
the centre, the same version again refused by the gateway with its reason while the set runs on, a newer
version, a rollback, an override and its cancel, and a restart that runs the stored set before the
centre is heard from."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from collector.config import load_config as load_collector_config
from collector.sinks import open_sink
from collector.sinks.sqlite_outbox import SqliteOutboxStore
from collector.sinks.url import StoreUrl
from configfile.secrets import write_secret
from edge_agent.config.load import load_config
from edge_agent.runtime import Agent
from harness.broker import Broker
from harness.commands import profiles_with_settle
from harness.stack import BIN
from simulators.luminaire.bank import LuminaireBankServer
from simulators.luminaire.model import Fault
from tests.collector.harness import running
from tests.drivers.conftest import PROFILES
from wire.events import EventKind, decode_event
from wire.signing import new_key_texts
from wire.topics import TopicKind

SITE, GW = "test", "gw-light"


def program(version: int, level: int) -> str:
    """A set whose only step is at noon: every moment of every night wants ``level``."""
    return (
        f"version: {version}\nprograms:\n  p: {{steps: [{{at: '12:00', level: {level}}}]}}\n"
        "calendars:\n  streets: {default_program: p}\ngroups:\n  rue-a: [lum-00, lum-01]\n"
        "assign:\n  - {calendar: streets, groups: [rue-a]}\n"
    )


@dataclass
class Street:
    tmp: Path
    sim: LuminaireBankServer
    collector_yaml: Path
    agent_yaml: Path

    def level(self, sa: int) -> float:
        return self.sim.luminaire(sa).state().level_percent

    async def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run,
            [str(BIN / "collector"), *argv, "-c", str(self.collector_yaml)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    async def push(self, version: int, level: int, *extra: str) -> subprocess.CompletedProcess[str]:
        path = self.tmp / f"set-{version}-{level}.yaml"
        path.write_text(program(version, level))
        return await self.cli("lighting", "push", str(path), "-g", GW, "--wait", "20", *extra)


async def until(cond: object, what: str, timeout: float = 20.0) -> None:
    assert callable(cond)
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def street(broker: Broker, tmp_path: Path) -> AsyncIterator[Street]:
    centre_private, centre_line = new_key_texts("centre-k")
    write_secret(tmp_path / "centre-k.key", centre_private)
    gw_private, gw_line = new_key_texts("gw-light-k")
    write_secret(tmp_path / "gw-light-k.key", gw_private)
    profiles = profiles_with_settle(PROFILES, tmp_path / "profiles", 0.3)
    async with LuminaireBankServer(count=2) as sim:
        agent_yaml = tmp_path / "agent.yaml"
        agent_yaml.write_text(
            f"gateway: {GW}\nsite: {SITE}\nbroker: {{host: 127.0.0.1, port: {broker.port}}}\n"
            f"buffer: {{path: {tmp_path / 'buffer.db'}, commit_interval_s: 0.05}}\n"
            f"status_socket: {tmp_path / 'agent.sock'}\nprofile_paths: [{profiles}]\n"
            "location: {latitude: 47.32, longitude: 5.04}\n"
            f"commands:\n  key_id: gw-light-k\n  key_file: gw-light-k.key\n"
            f'  centre_keys: {{centre-k: "{centre_line.split(": ", 1)[1]}"}}\n'
            f"  ledger: {tmp_path / 'commands.db'}\n"
            f"lighting: {{timezone: Europe/Paris, store: {tmp_path / 'lighting.db'}, tick_s: 1,\n"
            "           clock_sync: assume}  # the test host's kernel need not be NTP-synchronised\n"
            "buses:\n  - name: dali-gw-1\n    kind: modbus_tcp\n    host: 127.0.0.1\n"
            f"    port: {sim.port}\n    timeout_s: 0.5\n    devices:\n"
            "      - {name: 'lum-0{sa}', profile: dali-gw-luminaire, poll_interval_s: 1, params: {c: 0},\n"
            "         repeat: {sa: [0, 1]}}\n"
        )
        collector_yaml = tmp_path / "collector.yaml"
        collector_yaml.write_text(
            f"collector_id: centre-light\nbroker: {{host: 127.0.0.1, port: {broker.port}, keepalive_s: 10}}\n"
            f"subscription: {{site: {SITE}}}\nstore: {{url: 'sqlite:///store/collector.db'}}\n"
            f"commands:\n  key_id: centre-k\n  key_file: centre-k.key\n"
            f"  gateways:\n    {GW}: {{site: {SITE}, keys: {{gw-light-k: '{gw_line.split(': ', 1)[1]}'}}}}\n"
        )
        yield Street(tmp_path, sim, collector_yaml, agent_yaml)


@pytest.fixture
async def agent(street: Street) -> AsyncIterator[Agent]:
    collector_config = load_collector_config(street.collector_yaml)
    sink = await open_sink(collector_config.store.url)
    try:
        async with running(collector_config, sink):
            built = await Agent.build(load_config(street.agent_yaml))
            stop = asyncio.Event()
            task = asyncio.create_task(built.run(stop))
            try:
                await asyncio.wait_for(built.link.subscribed.wait(), 10)
                yield built
            finally:
                stop.set()
                await asyncio.wait_for(task, 20)
    finally:
        await sink.close()


async def test_push_refuse_newer_rollback_override_cancel(street: Street, agent: Agent) -> None:
    pushed = await street.push(1, 40)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    sent, answer = (json.loads(line) for line in pushed.stdout.strip().splitlines())
    assert (sent["sent"], answer["state"]) == (True, "installed")
    await until(lambda: abs(street.level(0) - 40) <= 1 and abs(street.level(1) - 40) <= 1, "both at 40 %")

    status = await street.cli("lighting", "status", "-f", "json")
    (row,) = json.loads(status.stdout)
    assert (row["pushed_version"], row["running_version"]) == (1, 1)
    assert row["levels"]["rue-a"]["level"] == 40

    bad = street.tmp / "bad.yaml"
    bad.write_text(program(2, 40).replace("'12:00'", "'25:00'"))
    refused_here = await street.cli("lighting", "push", str(bad), "-g", GW)
    assert refused_here.returncode == 2
    assert "programs.p.steps.0.at" in refused_here.stderr

    again = await street.push(1, 70)  # the same version: not newer
    assert again.returncode == 1
    answer = json.loads(again.stdout.strip().splitlines()[-1])
    assert answer["state"] == "refused"
    assert "not newer than the running v1" in answer["reason"]
    await asyncio.sleep(1.5)
    assert abs(street.level(0) - 40) <= 1  # the running set runs on

    assert (await street.push(2, 60)).returncode == 0
    await until(lambda: abs(street.level(0) - 60) <= 1, "v2's 60 %")
    back = await street.cli("lighting", "rollback", "--to", "1", "-g", GW, "--wait", "20")
    assert back.returncode == 0, back.stdout + back.stderr
    await until(lambda: abs(street.level(0) - 40) <= 1, "v1's 40 % again")

    override = await street.cli("command", "send", "-g", GW, "-d", "lighting", "-a", "override",
                                "--arg", "level=90", "--arg", "devices=lum-01", "--arg", "duration_s=600",
                                "--wait")  # fmt: skip
    assert override.returncode == 0, override.stdout + override.stderr
    override_id = json.loads(override.stdout.splitlines()[0])["id"]
    await until(lambda: abs(street.level(1) - 90) <= 1, "lum-01 overridden to 90 %")
    assert abs(street.level(0) - 40) <= 1
    cancel = await street.cli("command", "send", "-g", GW, "-d", "lighting", "-a", "cancel_override",
                              "--arg", f"override_id={override_id}", "--wait")  # fmt: skip
    assert cancel.returncode == 0, cancel.stdout + cancel.stderr
    await until(lambda: abs(street.level(1) - 40) <= 1, "lum-01 back to its program at once")


async def test_a_restart_runs_the_stored_set_before_the_centre_is_heard(
    street: Street, broker: Broker
) -> None:
    collector_config = load_collector_config(street.collector_yaml)
    sink = await open_sink(collector_config.store.url)
    try:
        async with running(collector_config, sink):
            first = await Agent.build(load_config(street.agent_yaml))
            stop = asyncio.Event()
            task = asyncio.create_task(first.run(stop))
            await asyncio.wait_for(first.link.subscribed.wait(), 10)
            assert (await street.push(3, 55)).returncode == 0
            stop.set()
            await asyncio.wait_for(task, 20)
    finally:
        await sink.close()
    street.sim.luminaire(0).set_percent(100)  # what a power cycle leaves on the gear
    broker.stop()  # the centre is gone
    restarted = await Agent.build(load_config(street.agent_yaml))
    stop = asyncio.Event()
    task = asyncio.create_task(restarted.run(stop))
    try:
        await until(lambda: abs(street.level(0) - 55) <= 1, "the stored set's 55 % without the centre")
        assert restarted.lighting is not None
        assert restarted.lighting.installer.installed is not None
        assert restarted.lighting.installer.installed.version == 3
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        broker.start()


async def test_a_lamp_failure_reaches_the_centre_raised_then_cleared(street: Street, agent: Agent) -> None:
    """The fault monitor judges the real pollers' readings; its events travel the outbox to the store."""
    collector_config = load_collector_config(street.collector_yaml)

    async def faults() -> list[tuple[str, str, object]]:
        store = await SqliteOutboxStore.open(StoreUrl.parse(collector_config.store.url))
        try:
            rows = await store.messages(gateway=GW, limit=500)
        finally:
            await store.close()
        events = [decode_event(r.body) for r in rows if r.kind == TopicKind.EVENT.value]
        return [(e.kind.value, e.device, e.details.get("fault")) for e in reversed(events)
                if e.kind in (EventKind.FAULT_RAISED, EventKind.FAULT_CLEARED)]  # fmt: skip

    street.sim.inject(1, Fault.LAMP)
    deadline = asyncio.get_running_loop().time() + 20
    while ("fault_raised", "lum-01", "lamp_failure") not in await faults():
        assert asyncio.get_running_loop().time() < deadline, await faults()
        await asyncio.sleep(0.3)
    street.sim.inject(1, Fault.NONE)
    while ("fault_cleared", "lum-01", "lamp_failure") not in await faults():
        assert asyncio.get_running_loop().time() < deadline + 20, await faults()
        await asyncio.sleep(0.3)


async def test_a_gear_power_cycled_is_told_its_level_again(street: Street, agent: Agent) -> None:
    """Mains back (a power cycle): the gear lights at its power-on level and says so (status b7); the
    runner tells it the program's level again instead of trusting the level it confirmed before."""
    assert (await street.push(1, 35)).returncode == 0
    lighting = agent.lighting
    assert lighting is not None
    await until(lambda: lighting.runner.confirmed("lum-00") == 35, "35 % confirmed (read back)")
    street.sim.luminaire(0).power_cycle()
    assert abs(street.level(0) - 35) > 1  # at its power-on level now
    await until(lambda: abs(street.level(0) - 35) <= 1, "35 % again after the power cycle")
