"""The agent's long-running tasks run supervised: when one dies, the agent stops and exits non-zero
(systemd restarts it) instead of polling into a buffer that no longer commits while it looks alive.

The real runtime, in-process: a real Mosquitto, the luminaire simulator (a real Modbus TCP server),
the agent's own buffer file."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge_agent.config.load import load_config
from edge_agent.counters import Counter
from edge_agent.runtime import Agent
from edge_agent.service import supervise
from edge_agent.supervisor import PartEnded, Supervisor, first_failure
from harness.broker import Broker
from mqtt_session import MqttLink
from simulators.luminaire.bank import LuminaireBankServer
from wire import topics
from wire.points import Reading
from wire.status import GatewayStatus, LinkState, decode_status

PROFILES = Path(__file__).resolve().parents[2] / "configs" / "profiles"
BOUND_S = 15.0  # a supervised agent stops within this; an unsupervised one never does


@pytest.fixture
async def sim() -> AsyncIterator[LuminaireBankServer]:
    async with LuminaireBankServer(count=2) as s:
        yield s


async def build(tmp_path: Path, broker: Broker, sim: LuminaireBankServer, *, poll: bool = True) -> Agent:
    (tmp_path / "agent.yaml").write_text(
        f"""gateway: gw-sup
site: test
broker: {{host: 127.0.0.1, port: {broker.port}}}
buffer: {{path: {tmp_path / "buffer.db"}, commit_interval_s: 0.05}}
uplink: {{batch_linger_s: 0.2}}
health_interval_s: 1
status_socket: {tmp_path / "agent.sock"}
profile_paths: [{PROFILES}]
buses:
  - name: dali-gw-1
    kind: modbus_tcp
    host: 127.0.0.1
    port: {sim.port}
    timeout_s: 0.5
    devices:
      - name: "lum-{{sa:02d}}"
        profile: dali-gw-luminaire
        unit: 1
        poll_interval_s: 0.2
        params: {{c: 0}}
        repeat: {{sa: [0, 1]}}
"""
    )
    return await Agent.build(load_config(tmp_path / "agent.yaml"), poll=poll)


async def retained_status(broker: Broker) -> GatewayStatus:
    got: asyncio.Queue[GatewayStatus] = asyncio.Queue()
    watcher = MqttLink(
        client_id="status-watcher",
        host=broker.host,
        port=broker.port,
    )
    watcher.route(
        topics.topic("test", "gw-sup", topics.TopicKind.STATUS),
        lambda m: got.put_nowait(decode_status(m.payload)),
    )
    task = asyncio.create_task(watcher.run())
    try:
        return await asyncio.wait_for(got.get(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def committed(agent: Agent, at_least: int) -> None:
    for _ in range(200):
        if (await agent.buffer.stats()).counters[Counter.COMMITTED] >= at_least:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} readings committed in 10 s")


@pytest.mark.parametrize("poll", [True, False], ids=["polling", "flushing"])
async def test_a_dead_buffer_writer_stops_the_agent_non_zero(
    tmp_path: Path, broker: Broker, sim: LuminaireBankServer, poll: bool
) -> None:
    """Polling, the pollers' appends fail too; without pollers (``edge-agent flush``) only the task group
    sees the writer die."""
    agent = await build(tmp_path, broker, sim, poll=poll)
    stop = asyncio.Event()
    run = asyncio.create_task(supervise(agent, stop))
    try:
        if poll:
            await committed(agent, 20)  # polling, committing

        def writer_dies() -> None:  # called by the writer after a commit: it kills the writer
            raise RuntimeError("injected: the buffer's writer dies")

        agent.buffer.listeners.append(writer_dies)
        if not poll:
            await agent.buffer.append([Reading("lum-00", "level", 1_767_225_600_000, 50)])
        started = time.monotonic()
        code = await asyncio.wait_for(asyncio.shield(run), BOUND_S)
        assert code == 1
        assert time.monotonic() - started < BOUND_S
        assert all(t.done() for t in agent.tasks)  # nothing left running: pollers, link, uplink
        status = await retained_status(broker)
        assert status.state is LinkState.OFFLINE  # said before the link went down: not left "online"
        assert status.ts_ms is not None  # the agent's own goodbye, not the broker's last will
    finally:
        stop.set()
        if not run.done():  # the unsupervised failure: stop it, or the test would hang
            await asyncio.wait_for(run, 20)


async def test_a_stop_is_clean_and_exits_zero(
    tmp_path: Path, broker: Broker, sim: LuminaireBankServer
) -> None:
    agent = await build(tmp_path, broker, sim)
    stop = asyncio.Event()
    run = asyncio.create_task(supervise(agent, stop))
    await committed(agent, 20)
    stop.set()
    assert await asyncio.wait_for(run, BOUND_S) == 0
    assert all(t.done() for t in agent.tasks)


async def test_a_part_that_ends_while_the_agent_runs_is_a_failure() -> None:
    offline: list[bool] = []
    supervisor = Supervisor(on_failure=lambda: offline.append(True))
    forever = asyncio.Event()

    async def ends() -> None:
        await asyncio.sleep(0.01)

    async def waits() -> None:
        await forever.wait()

    async def run() -> None:
        async with asyncio.TaskGroup() as group:
            supervisor.spawn(group, waits(), "waits")
            supervisor.spawn(group, ends(), "ends")

    with pytest.raises(ExceptionGroup) as failed:
        await asyncio.wait_for(run(), 5)
    assert isinstance(first_failure(failed.value), PartEnded)
    assert offline == [True]  # once
    assert all(t.done() for t in supervisor.tasks)
