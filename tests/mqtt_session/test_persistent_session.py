"""The agent's persistent session: a QoS-1 command sent while its link was away arrives on reconnect.

The link is the one the agent's runtime builds from its config (``broker.session_expiry_s``); the
command is published by another client while the agent's link is stopped (a clean disconnect keeps the
session for its expiry, as an outage does).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge_agent.config.load import load_config
from edge_agent.runtime import Agent
from harness.broker import Broker
from mqtt_session import Message, MqttLink
from tests.mqtt_session.session import running, wait_for
from wire import topics

CONFIG = """
gateway: cab-1
site: test
broker: {{host: {host}, port: {port}, session_expiry_s: {expiry}}}
buffer: {{path: {buffer}}}
buses:
  - name: bus-1
    kind: modbus_tcp
    host: 127.0.0.1
    port: 1
    devices:
      - name: meter
        points:
          - {{name: voltage, register: 10, type: uint16}}
"""
COMMAND = topics.topic("test", "cab-1", topics.TopicKind.COMMAND)


@pytest.fixture(params=[3600, 0], ids=["persistent", "clean"])
async def agent(request: pytest.FixtureRequest, broker: Broker, tmp_path: Path) -> AsyncIterator[Agent]:
    """The agent as its runtime builds it (no polling), with ``broker.session_expiry_s`` = the param."""
    path = tmp_path / "agent.yaml"
    buffer = tmp_path / "buffer.db"
    path.write_text(CONFIG.format(host=broker.host, port=broker.port, expiry=request.param, buffer=buffer))
    agent = await Agent.build(load_config(path), poll=False)
    try:
        yield agent
    finally:
        await agent.buffer.close()
        await agent.outbox.close()


async def test_a_command_sent_while_away_arrives_after_reconnect(agent: Agent, broker: Broker) -> None:
    persistent = agent.config.config.broker.session_expiry_s > 0
    commands: list[Message] = []
    agent.link.route(COMMAND, commands.append, qos=1)
    async with running(agent.link):
        assert not agent.link.session_resumed  # a fresh broker knows no session
    centre = MqttLink(client_id="centre", host=broker.host, port=broker.port)
    async with running(centre):
        await centre.publish_confirmed(COMMAND, b"switch lum-07 on", qos=1)  # the agent is away
    async with running(agent.link):
        assert agent.link.session_resumed is persistent
        if persistent:
            await wait_for(lambda: len(commands) == 1)
            assert commands[0].payload == b"switch lum-07 on"
            assert commands[0].qos == 1
        else:  # negative control: without a persistent session the broker kept nothing
            await asyncio.sleep(1.0)
            assert commands == []
        # Either way the route is subscribed again: a command sent now arrives.
        async with running(centre):
            await centre.publish_confirmed(COMMAND, b"now", qos=1)
        await wait_for(lambda: bool(commands) and commands[-1].payload == b"now")
