"""Maintenance mode set from the centre, end to end: signed ``set_maintenance`` commands to the real agent
on a real broker, with the bollard-site simulator; the collector stores the results. Time runs faster
(tests/edge_agent/command_stand.py) so the bollard's travel and settle take about a second."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge_agent.cli.live import print_status
from harness.broker import Broker
from simulators.bollard.server import BollardSiteServer
from tests.edge_agent.command_stand import SpedClock, Stand, command_stand
from wire.commands import ResultState
from wire.points import Value


@pytest.fixture
async def bollard_stand(broker: Broker, tmp_path: Path) -> AsyncIterator[tuple[Stand, BollardSiteServer]]:
    clock = SpedClock()
    async with BollardSiteServer(count=1, now=clock.monotonic) as sim:
        buses = f"""  - name: access
    kind: modbus_tcp
    host: 127.0.0.1
    port: {sim.port}
    timeout_s: 1.0
    devices:
      - {{name: site-7, profile: bollard-site, unit: 1, poll_interval_s: 4}}
"""
        async with command_stand(broker, tmp_path, buses, clock) as stand:
            yield stand, sim


async def test_maintenance_from_the_centre_refuses_survives_a_restart_and_lets_the_emergency_through(
    bollard_stand: tuple[Stand, BollardSiteServer], capsys: pytest.CaptureFixture[str]
) -> None:
    stand, sim = bollard_stand
    async with stand.agent():
        works: dict[str, Value] = {"on": True, "reason": "pump works"}
        on = await stand.final(stand.command("site-7", "set_maintenance", works))
        assert (on.state, on.reason) == (ResultState.DONE, None)
        assert [(r.point, r.value) for r in on.read_back] == [("maintenance_mode", True)]
        mailbox = list(sim.map.mailbox)
        refused = await stand.final(stand.command("site-7", "lower"))
        assert refused.state is ResultState.REFUSED
        assert "maintenance" in (refused.reason or "")
        assert sim.map.mailbox == mailbox  # nothing written
    async with stand.agent():  # a restart: the mode was recorded, not just held in memory
        status = await asyncio.to_thread(stand.status)
        flag = status["devices"]["site-7"]["maintenance"]
        assert (flag["on"], flag["reason"], flag["command_id"]) == (True, "pump works", str(on.command_id))
        print_status(status)  # what `edge-agent status` prints
        assert "MAINTENANCE MODE since" in capsys.readouterr().out
        again = await stand.final(stand.command("site-7", "lower"))
        assert again.state is ResultState.REFUSED
        assert "'maintenance_mode'" in (again.reason or "")
        assert sim.map.mailbox == mailbox
        emergency = await stand.final(stand.command("site-7", "emergency_lower"))
        assert emergency.state is ResultState.DONE, emergency.reason
        assert sim.site.reading().emergency
        off = await stand.final(stand.command("site-7", "set_maintenance", {"on": False}))
        assert off.state is ResultState.DONE
        assert [(r.point, r.value) for r in off.read_back] == [("maintenance_mode", False)]
        assert (await asyncio.to_thread(stand.status))["devices"]["site-7"]["maintenance"] == {"on": False}
        reset = await stand.final(stand.command("site-7", "reset_fault"))  # commands run again
        assert reset.state is ResultState.DONE, reset.reason
        assert not sim.site.reading().emergency


async def test_set_maintenance_checks_its_arguments(bollard_stand: tuple[Stand, BollardSiteServer]) -> None:
    stand, _ = bollard_stand
    async with stand.agent():
        bad = await stand.final(stand.command("site-7", "set_maintenance", {"on": "yes"}))
        missing = await stand.final(stand.command("site-7", "set_maintenance", {}))
        flag = (await asyncio.to_thread(stand.status))["devices"]["site-7"]["maintenance"]
    assert bad.state is ResultState.REFUSED
    assert bad.reason == "argument 'on': 'yes' is not of type bool"
    assert missing.reason == "argument 'on': required, missing"
    assert flag == {"on": False}
