"""A stand for commands end to end on any device: a real broker, the real collector storing what the agent's
outbox sends, a centre that signs and publishes, and the real agent runtime (built from a config whose
buses the test gives) with its status socket. Time runs ``SPEED`` times faster for the agent and the
simulators that take the same clock (settle waits, travel, polls), while the wall clock — expiry,
timestamps — stays real, so the centre's signatures and expiries mean what they say."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.config import CollectorConfig
from collector.sinks import open_sink
from configfile.secrets import write_secret
from edge_agent.cli.live import ask
from edge_agent.config.load import load_config
from edge_agent.runtime import Agent
from edge_agent.service import status_server
from harness.broker import Broker
from mqtt_session import MqttLink
from tests.collector.harness import make_config, running
from tests.drivers.conftest import PROFILES
from tests.edge_agent.test_commands_e2e import stored
from wire.commands import Command, CommandResult
from wire.events import Event, decode_event
from wire.points import Value
from wire.signing import KeyRing, Signer, new_key_texts, parse_private_key
from wire.topics import TopicKind, topic

SITE, GW = "test", "gw-stand"
SPEED = 8.0


class SpedClock:
    """The agent's clock (edge_agent.clock.Clock): intervals and sleeps ``factor`` times faster, the wall
    clock real. ``monotonic`` is also the simulators' ``now``."""

    def __init__(self, factor: float = SPEED) -> None:
        self.factor = factor
        self._t0 = time.monotonic()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return self._t0 + (time.monotonic() - self._t0) * self.factor

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.factor)


@dataclass
class Stand:
    tmp: Path
    centre: Signer
    centre_link: MqttLink
    collector: CollectorConfig
    gateway_ring: KeyRing
    config_path: Path
    clock: SpedClock

    def command(
        self, device: str, action: str, args: Mapping[str, Value] | None = None, *, ttl_ms: int = 30_000
    ) -> Command:
        now = int(time.time() * 1000)
        return Command(uuid.uuid4(), GW, device, action, dict(args or {}), now, now + ttl_ms, "t", "centre-k")

    def send(self, cmd: Command) -> Command:
        self.centre_link.publish(topic(SITE, GW, TopicKind.COMMAND), self.centre.seal_command(cmd), qos=1)
        return cmd

    async def results(
        self, cmd: Command, *, until: Callable[[list[CommandResult]], bool], timeout: float = 20.0
    ) -> list[CommandResult]:
        deadline = time.monotonic() + timeout
        found: list[CommandResult] = []
        while time.monotonic() < deadline:
            rows = [r for r in await stored(self.collector) if r.subject == str(cmd.id)]
            found = sorted((self.gateway_ring.verify_result(r.body) for r in rows), key=lambda r: r.ts_ms)
            if until(found):
                return found
            await asyncio.sleep(0.1)
        return found

    async def final(self, cmd: Command, timeout: float = 20.0) -> CommandResult:
        """The command's final result (sent now), or AssertionError."""
        got = await self.results(self.send(cmd), until=any_final, timeout=timeout)
        finals = [r for r in got if r.state.final]
        assert finals, f"no final result for {cmd.action} on {cmd.device}: {got}"
        return finals[-1]

    async def events(self, *, until: Callable[[list[Event]], bool], timeout: float = 20.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        found: list[Event] = []
        while time.monotonic() < deadline:
            found = [decode_event(r.body) for r in await stored(self.collector) if r.kind == "event"]
            if until(found):
                return found
            await asyncio.sleep(0.1)
        return found

    @contextlib.asynccontextmanager
    async def agent(self) -> AsyncIterator[Agent]:
        """The agent running (subscribed), with its status socket; stopped cleanly on exit."""
        config = load_config(self.config_path)
        agent = await Agent.build(config, self.clock)
        status = status_server(config, agent)
        await status.start()
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop, status))
        try:
            await asyncio.wait_for(agent.link.subscribed.wait(), 10)
            yield agent
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
            await status.close()

    def status(self) -> dict[str, Any]:
        return ask(self.tmp / "agent.sock", {"cmd": "status"})


def any_final(results: list[CommandResult]) -> bool:
    return any(r.state.final for r in results)


def write_agent_config(tmp_path: Path, broker: Broker, centre_public: str, buses: str) -> Path:
    private, public = new_key_texts("gw-stand-k")
    write_secret(tmp_path / "gw-stand-k.key", private)
    (tmp_path / "gw-stand-k.pub").write_text(public)
    path = tmp_path / "agent.yaml"
    path.write_text(
        f"""gateway: {GW}
site: {SITE}
broker: {{host: 127.0.0.1, port: {broker.port}}}
buffer: {{path: {tmp_path / "buffer.db"}, commit_interval_s: 0.05}}
status_socket: {tmp_path / "agent.sock"}
profile_paths: [{PROFILES}]
location: {{latitude: 47.32, longitude: 5.04}}
secrets: {{security_code: "4711"}}
commands:
  key_id: gw-stand-k
  key_file: gw-stand-k.key
  centre_keys: {{centre-k: "{centre_public}"}}
  ledger: {tmp_path / "commands.db"}
  skew_s: 0.5
buses:
{buses}"""
    )
    return path


@contextlib.asynccontextmanager
async def command_stand(broker: Broker, tmp_path: Path, buses: str, clock: SpedClock) -> AsyncIterator[Stand]:
    """The stand around the agent config with ``buses`` (YAML list items, indented two spaces)."""
    centre_private, centre_line = new_key_texts("centre-k")
    collector = make_config(broker.host, broker.port, tmp_path / "store" / "collector.db")
    sink = await open_sink(collector.store.url)
    centre_link = MqttLink(client_id="centre", host=broker.host, port=broker.port)
    link_task = asyncio.create_task(centre_link.run())
    try:
        async with running(collector, sink):
            config = write_agent_config(tmp_path, broker, centre_line.split(": ", 1)[1], buses)
            ring = KeyRing.parse({"gw-stand-k": (tmp_path / "gw-stand-k.pub").read_text().split(": ", 1)[1]})
            await asyncio.wait_for(centre_link.subscribed.wait(), 10)
            yield Stand(
                tmp_path,
                Signer("centre-k", parse_private_key(centre_private)),
                centre_link,
                collector,
                ring,
                config,
                clock,
            )
    finally:
        await centre_link.close()
        link_task.cancel()
        await asyncio.gather(link_task, return_exceptions=True)
        await sink.close()
