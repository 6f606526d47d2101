"""Commands that must not run, sent to the real agent runtime on a real broker with the luminaire
simulator: its write log proves the device was never touched, and the results the collector stored say
why (or there is none, for what is not authentic)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from collector.config import CollectorConfig
from collector.sinks import open_sink
from edge_agent.config.load import load_config
from edge_agent.counters import Counter
from edge_agent.runtime import Agent
from harness.broker import Broker
from harness.stack import BIN
from mqtt_session import MqttLink
from simulators.luminaire.bank import LuminaireBankServer
from tests.collector.harness import make_config, running
from tests.edge_agent.test_commands_e2e import GW, SITE, agent_config, stored
from wire.commands import Command, CommandResult, ResultState
from wire.signing import KeyRing, Signer, generate_key_pair, new_key_texts, parse_private_key
from wire.topics import TopicKind, topic


@dataclass
class Stand:
    sim: LuminaireBankServer
    centre: Signer
    centre_link: MqttLink
    collector: CollectorConfig
    gateway_ring: KeyRing
    config_path: Path

    def command(self, *, gateway: str = GW, ttl_ms: int = 60_000, issued: int | None = None) -> Command:
        now = int(time.time() * 1000) if issued is None else issued
        return Command(
            uuid.uuid4(), gateway, "lum-00", "set_level", {"level": 55}, now, now + ttl_ms, "t", "centre-k"
        )

    def send(self, payload: bytes) -> None:
        self.centre_link.publish(topic(SITE, GW, TopicKind.COMMAND), payload, qos=1)

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
            await asyncio.sleep(0.2)
        return found


async def run_agent(config_path: Path) -> tuple[Agent, asyncio.Event, asyncio.Task[None]]:
    agent = await Agent.build(load_config(config_path))
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await asyncio.wait_for(agent.link.subscribed.wait(), 10)
    return agent, stop, task


@pytest.fixture
async def stand(broker: Broker, tmp_path: Path) -> AsyncIterator[Stand]:
    centre_private, centre_line = new_key_texts("centre-k")
    collector = make_config(broker.host, broker.port, tmp_path / "store" / "collector.db")
    sink = await open_sink(collector.store.url)
    centre_link = MqttLink(client_id="centre", host=broker.host, port=broker.port)
    link_task = asyncio.create_task(centre_link.run())
    try:
        async with LuminaireBankServer(count=1) as sim, running(collector, sink):
            config = agent_config(tmp_path, broker, sim.port, centre_line.split(": ", 1)[1])
            ring = KeyRing.parse({"gw-cmd-k": (tmp_path / "gw-cmd-k.pub").read_text().split(": ", 1)[1]})
            await asyncio.wait_for(centre_link.subscribed.wait(), 10)
            yield Stand(
                sim,
                Signer("centre-k", parse_private_key(centre_private)),
                centre_link,
                collector,
                ring,
                config,
            )
    finally:
        await centre_link.close()
        link_task.cancel()
        await asyncio.gather(link_task, return_exceptions=True)
        await sink.close()


async def test_refused_commands_never_touch_the_device(stand: Stand) -> None:
    agent, stop, task = await run_agent(stand.config_path)
    try:
        forged = stand.command()
        stand.send(Signer("centre-k", generate_key_pair().private).seal_command(forged))
        unknown = stand.command()
        unknown_cmd = Command(unknown.id, GW, "lum-00", "set_level", {"level": 55}, unknown.issued_at_ms,
                              unknown.expires_at_ms, "t", "centre-x")  # fmt: skip
        stand.send(Signer("centre-x", generate_key_pair().private).seal_command(unknown_cmd))
        elsewhere = stand.command(gateway="gw-other")
        stand.send(stand.centre.seal_command(elsewhere))
        late = stand.command(issued=int(time.time() * 1000) - 120_000, ttl_ms=60_000)
        stand.send(stand.centre.seal_command(late))

        refused = await stand.results(elsewhere, until=lambda r: len(r) >= 1)
        expired = await stand.results(late, until=lambda r: len(r) >= 1)
        assert [r.state for r in refused] == [ResultState.REFUSED]
        assert "addressed to gateway 'gw-other'" in (refused[0].reason or "")
        assert [r.state for r in expired] == [ResultState.EXPIRED]
        assert await stand.results(forged, until=bool, timeout=1) == []  # not authentic: no result
        assert await stand.results(unknown, until=bool, timeout=1) == []
        assert agent.commands is not None
        assert stand.sim.writes == []  # the device was never touched
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def test_a_replay_runs_nothing_twice_also_after_a_restart(stand: Stand) -> None:
    cmd = stand.command()
    payload = stand.centre.seal_command(cmd)
    _, stop, task = await run_agent(stand.config_path)
    try:
        stand.send(payload)
        first = await stand.results(
            cmd, until=lambda r: any(x.state is ResultState.DONE for x in r), timeout=40
        )
        assert [r.state for r in first] == [ResultState.ACCEPTED, ResultState.DONE]
        writes = list(stand.sim.writes)
        assert writes  # it ran once
        stand.send(payload)  # replayed while the agent runs
        await asyncio.sleep(1.5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
    _, stop, task = await run_agent(stand.config_path)  # and after a restart
    try:
        stand.send(payload)
        await asyncio.sleep(1.5)
        again = await stand.results(cmd, until=lambda r: len(r) > 2, timeout=1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
    assert [r.state for r in again] == [ResultState.ACCEPTED, ResultState.DONE]  # no second result
    assert stand.sim.writes == writes  # no second write


async def test_a_command_held_in_the_broker_past_its_expiry_is_expired_not_run(stand: Stand) -> None:
    _, stop, task = await run_agent(stand.config_path)  # the session exists at the broker
    stop.set()
    await asyncio.wait_for(task, 20)
    cmd = stand.command(ttl_ms=1_500)
    stand.send(stand.centre.seal_command(cmd))  # the gateway is away: the broker keeps it (persistent)
    await asyncio.sleep(1.5 + 0.5 + 1.0)  # past its expiry plus the agent's skew allowance (0.5 s)
    _, stop, task = await run_agent(stand.config_path)
    try:
        got = await stand.results(cmd, until=lambda r: len(r) >= 1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
    assert [r.state for r in got] == [ResultState.EXPIRED]
    assert stand.sim.writes == []


async def test_results_once_in_the_audit_across_a_broker_restart_during_execution(
    stand: Stand, broker: Broker
) -> None:
    """The broker restarts (no persistence: every session and queued message is gone) while the luminaire
    settles before its read-back; the results wait in the agent's outbox and are stored exactly once."""
    _, stop, task = await run_agent(stand.config_path)
    try:
        cmd = stand.command()
        stand.send(stand.centre.seal_command(cmd))
        for _ in range(400):  # until the write went out: the action then settles for its read-back
            if stand.sim.writes:
                break
            await asyncio.sleep(0.05)
        assert stand.sim.writes, "the command was not executed"
        await asyncio.to_thread(broker.restart, 1.0)
        done = ResultState.DONE
        got = await stand.results(cmd, until=lambda r: any(x.state is done for x in r), timeout=60)
        await asyncio.sleep(1.0)  # anything re-sent meanwhile would be stored by now
        again = await stand.results(cmd, until=lambda r: False, timeout=0.5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
    assert [r.state for r in got] == [ResultState.ACCEPTED, ResultState.DONE]
    assert [r.state for r in again] == [ResultState.ACCEPTED, ResultState.DONE]  # once each, not twice
    assert len(stand.sim.writes) == 1  # written once


async def test_kill_9_between_the_write_and_the_result_reports_outcome_unknown(
    stand: Stand, tmp_path: Path
) -> None:
    """The agent (a process) is killed while the luminaire settles after the write; the restarted agent
    reports the command ``failed: outcome unknown`` and does not write again."""
    argv = [str(BIN / "edge-agent"), "run", "--config", str(stand.config_path)]
    log = (tmp_path / "agent.log").open("w")
    agent = await asyncio.create_subprocess_exec(*argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        cmd = stand.command()
        payload = stand.centre.seal_command(cmd)
        for _ in range(400):  # the agent is up (its status socket) and subscribes right after connecting
            if (tmp_path / "agent.sock").exists():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        stand.send(payload)
        for _ in range(400):
            if stand.sim.writes:
                break
            await asyncio.sleep(0.05)
        assert stand.sim.writes, (tmp_path / "agent.log").read_text()
        agent.send_signal(signal.SIGKILL)  # during the settle time: no result yet
        assert await asyncio.wait_for(agent.wait(), 10) == -signal.SIGKILL
        agent = await asyncio.create_subprocess_exec(*argv, stdout=log, stderr=subprocess.STDOUT)
        failed = ResultState.FAILED
        got = await stand.results(cmd, until=lambda r: any(x.state is failed for x in r), timeout=40)
    finally:
        if agent.returncode is None:
            agent.terminate()
            await asyncio.wait_for(agent.wait(), 20)
        log.close()
    states = [r.state for r in got]
    assert ResultState.DONE not in states
    assert states[-1] is ResultState.FAILED, (tmp_path / "agent.log").read_text()
    assert "outcome unknown" in (got[-1].reason or "")
    assert len(stand.sim.writes) == 1  # written once, never again


async def test_a_command_signed_with_a_revoked_key_gets_no_result_and_never_touches_the_device(
    stand: Stand,
) -> None:
    """The old centre key is still listed in the agent's config but revoked: its genuine signature is
    refused at the receiver, before the body is read (no result: the id cannot be trusted)."""
    old_private, old_line = new_key_texts("centre-old")
    text = stand.config_path.read_text()
    listed = 'centre_keys: {centre-k: "'
    assert listed in text
    text = text.replace(
        listed,
        f'revoked: [centre-old]\n  centre_keys: {{centre-old: "{old_line.split(": ", 1)[1]}", centre-k: "',
    )
    stand.config_path.write_text(text)
    agent, stop, task = await run_agent(stand.config_path)
    try:
        revoked = stand.command()
        signed = Command(revoked.id, GW, "lum-00", "set_level", {"level": 55}, revoked.issued_at_ms,
                         revoked.expires_at_ms, "t", "centre-old")  # fmt: skip
        stand.send(Signer("centre-old", parse_private_key(old_private)).seal_command(signed))
        assert agent.commands is not None
        counters = agent.commands.receiver.counters
        for _ in range(100):
            if counters[Counter.COMMANDS_UNAUTHENTIC]:
                break
            await asyncio.sleep(0.05)
        assert counters[Counter.COMMANDS_UNAUTHENTIC] == 1  # it arrived, and was refused as not authentic
        assert counters[Counter.COMMANDS_RUN] == 0
        assert await stand.results(revoked, until=bool, timeout=1) == []  # no result
        assert await agent.commands.ledger.get(revoked.id) is None  # never admitted
        assert stand.sim.writes == []  # the device was never touched
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
