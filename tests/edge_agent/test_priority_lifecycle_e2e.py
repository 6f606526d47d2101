"""Bus priority reported back (RSMP S0033), end to end: signed ``request_bus_priority`` commands to the real
agent on a real broker, against the real OPC-UA traffic-controller simulator with fast priority timings;
the agent follows each request on the controller and the collector stores one ``priority_request`` event
per state. Agent and controller time runs faster (tests/edge_agent/command_stand.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from harness.broker import Broker
from simulators.traffic.controller import TrafficController
from simulators.traffic.server import TrafficControllerServer
from simulators.traffic.status import FunctionalPosition
from tests.edge_agent.command_stand import SpedClock, Stand, command_stand
from wire.commands import ResultState
from wire.events import Event, EventKind
from wire.points import Value


@pytest.fixture
async def tlc_stand(broker: Broker, tmp_path: Path) -> AsyncIterator[tuple[Stand, TrafficController]]:
    clock = SpedClock()
    model = TrafficController(
        now=clock.monotonic, security_code="4711", priority_timeout_s=30, cooldown_s=20, linger_s=120
    )
    async with TrafficControllerServer(model, port=0, refresh_s=0.05) as tlc:
        buses = f"""  - name: tlc-bus
    kind: opcua
    endpoint: {tlc.endpoint}
    timeout_s: 2.0
    devices:
      - {{name: tlc-1, profile: traffic-controller, params: {{id: 1, signal_groups: 5, detectors: 4}}}}
"""
        async with command_stand(broker, tmp_path, buses, clock) as stand:
            yield stand, model


def bus(request_id: str, group: int, type_: str = "new", eta_s: int = 3) -> dict[str, Value]:
    args: dict[str, Value] = {"type": type_, "request_id": request_id, "signal_group": group}
    return args | {"eta_s": eta_s, "vehicle_type": "bus"}


def lifecycle(events: list[Event], request_id: str) -> list[str]:
    return [
        str(e.details["state"])
        for e in sorted(events, key=lambda e: e.at_ms)
        if e.kind is EventKind.PRIORITY_REQUEST and e.details["request_id"] == request_id
    ]


def ended(*request_ids: str) -> Callable[[list[Event]], bool]:
    finals = {"completed", "timeout", "rejected", "stale"}
    return lambda events: all(finals & set(lifecycle(events, r)) for r in request_ids)


async def until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_each_state_of_each_request_is_reported_once_with_its_command(
    tlc_stand: tuple[Stand, TrafficController],
) -> None:
    stand, model = tlc_stand

    def main_road_green_early() -> bool:
        snap = model.snapshot()
        return snap.stage == 1 and snap.cycle_counter <= 18

    async with stand.agent():
        await until(main_road_green_early)  # SG1 is green: a request for it is acted on at once
        a = await stand.final(stand.command("tlc-1", "request_bus_priority", bus("bus-a", 1)))
        assert a.state is ResultState.DONE, a.reason
        activated = await stand.events(until=lambda e: "activated" in lifecycle(e, "bus-a"))
        assert lifecycle(activated, "bus-a") == ["received", "activated"]  # the bus passes: cancel
        cancel = await stand.final(stand.command("tlc-1", "request_bus_priority", bus("bus-a", 1, "cancel")))
        assert cancel.state is ResultState.DONE, cancel.reason
        # SG1 was just favoured: a second bus on it waits out the cooldown, then queues behind SG4's bus
        b = stand.send(stand.command("tlc-1", "request_bus_priority", bus("bus-b", 1)))
        c = stand.send(stand.command("tlc-1", "request_bus_priority", bus("bus-c", 4)))
        events = await stand.events(until=ended("bus-a", "bus-b", "bus-c"), timeout=30)
        model.set_functional_position(FunctionalPosition.YELLOW_FLASH, 1, "4711")
        d = stand.send(stand.command("tlc-1", "request_bus_priority", bus("bus-d", 2)))
        events = await stand.events(until=ended("bus-d"), timeout=15)
    assert lifecycle(events, "bus-a") == ["received", "activated", "completed"]
    assert lifecycle(events, "bus-b") == ["received", "cooldown", "queued", "stale"]
    assert lifecycle(events, "bus-c") == ["received", "activated", "timeout"]
    assert lifecycle(events, "bus-d") == ["received", "rejected"]
    by_request = {"bus-a": a.command_id, "bus-b": b.id, "bus-c": c.id, "bus-d": d.id}
    for e in events:
        assert e.device == "tlc-1"
        assert e.details["command_id"] == str(by_request[str(e.details["request_id"])])
    assert {e.details["signal_group"] for e in events if e.details["request_id"] == "bus-c"} == {4}


async def test_a_request_the_controller_refuses_is_failed_and_not_followed(
    tlc_stand: tuple[Stand, TrafficController],
) -> None:
    stand, _ = tlc_stand
    async with stand.agent() as agent:
        update = stand.command("tlc-1", "request_bus_priority", bus("bus-x", 1, "update"))
        failed = await stand.final(update)  # no open request to update: the method call is refused
        assert agent.commands is not None
        assert agent.commands.tracker.following == []
    assert failed.state is ResultState.FAILED
    assert await stand.events(until=bool, timeout=1) == []
