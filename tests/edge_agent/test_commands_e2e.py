"""A signed command end to end: the real agent runtime (built from a config with ``commands:``) on a real
Mosquitto with the luminaire simulator, and the real collector storing what the agent's outbox sends. The
centre's signed ``set_level`` is published on the gateway's command topic; the collector stores the
gateway's signed ``accepted`` and ``done`` results, which verify with the gateway's public key; the
luminaire is at the level asked for. Real time: the action's settle wait is its declared 10 s."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from pathlib import Path

from collector.config import CollectorConfig
from collector.config import load_config as load_collector_config
from collector.sinks import open_sink
from collector.sinks.base import OutboxRecord
from collector.sinks.sqlite_outbox import SqliteOutboxStore
from configfile.secrets import write_secret
from edge_agent.config.load import load_config
from edge_agent.runtime import Agent
from harness.broker import Broker
from harness.stack import BIN
from mqtt_session import MqttLink
from simulators.luminaire.bank import LuminaireBankServer
from tests.collector.harness import make_config, running
from tests.drivers.conftest import PROFILES
from wire.commands import Command, ResultState
from wire.signing import KeyRing, Signer, new_key_texts, parse_private_key
from wire.topics import TopicKind, topic

SITE, GW = "test", "gw-cmd"


def agent_config(tmp_path: Path, broker: Broker, sim_port: int, centre_public: str) -> Path:
    private, public = new_key_texts("gw-cmd-k")
    write_secret(tmp_path / "gw-cmd-k.key", private)
    (tmp_path / "gw-cmd-k.pub").write_text(public)
    path = tmp_path / "agent.yaml"
    path.write_text(
        f"""gateway: {GW}
site: {SITE}
broker: {{host: 127.0.0.1, port: {broker.port}}}
buffer: {{path: {tmp_path / "buffer.db"}, commit_interval_s: 0.05}}
status_socket: {tmp_path / "agent.sock"}
profile_paths: [{PROFILES}]
location: {{latitude: 47.32, longitude: 5.04}}
commands:
  key_id: gw-cmd-k
  key_file: gw-cmd-k.key
  centre_keys: {{centre-k: "{centre_public}"}}
  ledger: {tmp_path / "commands.db"}
  skew_s: 0.5
buses:
  - name: dali-gw-1
    kind: modbus_tcp
    host: 127.0.0.1
    port: {sim_port}
    timeout_s: 0.5
    devices:
      - {{name: lum-00, profile: dali-gw-luminaire, poll_interval_s: 1, params: {{c: 0, sa: 0}}}}
"""
    )
    return path


async def stored(config: CollectorConfig) -> list[OutboxRecord]:
    store = await SqliteOutboxStore.open(config.store.store_url)
    try:
        return await store.messages(limit=1000)
    finally:
        await store.close()


async def test_a_signed_command_is_accepted_done_and_stored_at_the_collector(
    broker: Broker, tmp_path: Path
) -> None:
    centre_private, centre_line = new_key_texts("centre-k")
    centre = Signer("centre-k", parse_private_key(centre_private))
    collector_config = make_config(broker.host, broker.port, tmp_path / "store" / "collector.db")
    sink = await open_sink(collector_config.store.url)
    async with LuminaireBankServer(count=1) as sim:
        config = agent_config(tmp_path, broker, sim.port, centre_line.split(": ", 1)[1])
        agent = await Agent.build(load_config(config))
        assert agent.commands is not None
        gateway_ring = KeyRing.parse({"gw-cmd-k": (tmp_path / "gw-cmd-k.pub").read_text().split(": ", 1)[1]})
        stop = asyncio.Event()
        centre_link = MqttLink(client_id="centre", host=broker.host, port=broker.port)
        async with running(collector_config, sink):
            runner = asyncio.create_task(agent.run(stop))
            centre_task = asyncio.create_task(centre_link.run())
            try:
                await asyncio.wait_for(agent.link.subscribed.wait(), 10)
                await asyncio.wait_for(centre_link.subscribed.wait(), 10)
                now = int(time.time() * 1000)
                cmd = Command(
                    id=uuid.uuid4(),
                    gateway=GW,
                    device="lum-00",
                    action="set_level",
                    args={"level": 60},
                    issued_at_ms=now,
                    expires_at_ms=now + 60_000,
                    issuer="e2e",
                    key_id="centre-k",
                )
                centre_link.publish(topic(SITE, GW, TopicKind.COMMAND), centre.seal_command(cmd), qos=1)
                deadline = time.monotonic() + 40
                rows: list[OutboxRecord] = []
                while time.monotonic() < deadline:
                    rows = [r for r in await stored(collector_config) if r.subject == str(cmd.id)]
                    if any(r.what == ResultState.DONE.value for r in rows):
                        break
                    await asyncio.sleep(0.5)
            finally:
                stop.set()
                await asyncio.wait_for(runner, 20)
                centre_task.cancel()
                await asyncio.gather(centre_task, return_exceptions=True)
    await sink.close()
    results = sorted((gateway_ring.verify_result(r.body) for r in rows), key=lambda r: r.ts_ms)
    assert [r.state for r in results] == [ResultState.ACCEPTED, ResultState.DONE]
    assert all((r.command_id, r.gateway, r.key_id) == (cmd.id, GW, "gw-cmd-k") for r in results)
    (level,) = results[1].read_back
    assert level.point == "level"
    assert isinstance(level.value, int | float)
    assert abs(level.value - 60) <= 1
    assert sim.luminaire(0).state().target_arc > 0


async def test_collector_command_send_wait_round_trip_to_the_audit(broker: Broker, tmp_path: Path) -> None:
    """The operator's path: ``collector command send --wait`` signs and sends, the real agent runs it on
    the simulator, the collector verifies and stores the results, and the CLI prints ``done`` from the
    audit (exit 0); ``command show`` has both states."""
    centre_private, centre_line = new_key_texts("centre-k")
    write_secret(tmp_path / "centre-k.key", centre_private)
    async with LuminaireBankServer(count=1) as sim:
        config = agent_config(tmp_path, broker, sim.port, centre_line.split(": ", 1)[1])
        gw_public = (tmp_path / "gw-cmd-k.pub").read_text().split(": ", 1)[1]
        collector_yaml = tmp_path / "collector.yaml"
        collector_yaml.write_text(
            f"collector_id: centre-e2e\nbroker: {{host: 127.0.0.1, port: {broker.port}, keepalive_s: 10}}\n"
            f"subscription: {{site: {SITE}}}\nstore: {{url: 'sqlite:///store/collector.db'}}\n"
            f"commands:\n  key_id: centre-k\n  key_file: centre-k.key\n"
            f"  gateways:\n    {GW}: {{site: {SITE}, keys: {{gw-cmd-k: '{gw_public}'}}}}\n"
        )
        collector_config = load_collector_config(collector_yaml)
        sink = await open_sink(collector_config.store.url)
        agent = await Agent.build(load_config(config))
        stop = asyncio.Event()
        try:
            async with running(collector_config, sink):
                runner = asyncio.create_task(agent.run(stop))
                try:
                    await asyncio.wait_for(agent.link.subscribed.wait(), 10)
                    argv = ["command", "send", "-c", str(collector_yaml), "-g", GW, "-d", "lum-00"]
                    argv += ["-a", "set_level", "--arg", "level=30", "--expires", "40s", "--wait"]
                    done = await asyncio.to_thread(cli, *argv)
                    assert done.returncode == 0, done.stdout + done.stderr
                    sent, audited = (json.loads(line) for line in done.stdout.strip().splitlines())
                    shown = await asyncio.to_thread(
                        cli, "command", "show", sent["id"], "-c", str(collector_yaml)
                    )
                finally:
                    stop.set()
                    await asyncio.wait_for(runner, 20)
        finally:
            await sink.close()
    assert audited["status"] == "done"
    assert [s["state"] for s in audited["states"]] == ["accepted", "done"]
    (level,) = audited["states"][1]["read_back"]
    assert level["point"] == "level"
    assert abs(level["value"] - 30) <= 1
    assert [s["state"] for s in json.loads(shown.stdout)["states"]] == ["accepted", "done"]


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "collector"), *argv], capture_output=True, text=True, check=False, timeout=90
    )
