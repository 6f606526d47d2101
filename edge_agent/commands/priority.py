"""Bus-priority requests followed through their lifecycle (RSMP M0022 requests, S0033 states).

A ``request_bus_priority`` command is ``done`` once the controller took the request: that says nothing of
what the controller then does with it. So after a ``done``, :class:`PriorityTracker` follows the request
on the device and reports each of its states **once**, as a ``priority_request`` event through the
outbox (:mod:`wire.events`: the command id, the request id, the state, the signal group; ``at_ms`` when
the agent saw it):

- ``received`` when the controller took the request (the method call succeeded);
- then what the controller lists for that request id in its slots ``prio{k}_request`` /
  ``prio{k}_state`` (the traffic-controller profile's points): ``queued``, ``activated``, ``cooldown``,
  and a final ``completed``, ``timeout``, ``rejected`` or ``stale``, after which the follow ends.

The slots are read every ``interval_s`` (the injected clock) at poll priority: an OPC-UA device's
subscribed points come from its last notification, not a request. A state shorter than that and the
subscription's sampling is not seen. A follow also ends when the request, once seen, leaves the slots,
or after ``max_s`` (a controller that never lists it). An update or cancel of a request already followed
adds no second follow: the first reports its states. Follows are not kept across a restart.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Protocol

from drivers.errors import DriverError
from drivers.scheduler import Priority
from edge_agent.clock import Clock
from edge_agent.commands.targets import CommandBus
from edge_agent.outbox.store import OutboxFull
from wire.commands import Command, CommandResult, ResultState
from wire.events import PRIORITY_FINAL, PRIORITY_STATES, Event, EventKind, encode_event
from wire.outbox import OutboxKey
from wire.points import Value
from wire.topics import TopicKind

log = logging.getLogger(__name__)

ACTION = "request_bus_priority"
_SLOT = re.compile(r"^prio(\d+)_request$")


class Events(Protocol):
    """Where events go: the agent's outbox."""

    async def put(self, topic_kind: TopicKind, body: bytes) -> OutboxKey: ...


class PriorityTracker:
    def __init__(
        self,
        *,
        buses: Mapping[str, CommandBus],
        events: Events,
        clock: Clock,
        interval_s: float = 0.5,
        max_s: float = 900.0,
    ) -> None:
        self._buses = dict(buses)  # device -> the driver of its bus
        self._events = events
        self._clock = clock
        self._interval_s = interval_s
        self._max_s = max_s
        self._following: dict[tuple[str, str], asyncio.Task[None]] = {}

    def after(self, cmd: Command, result: CommandResult) -> None:
        """Called with every final result: a ``done`` bus-priority request starts a follow."""
        if cmd.action != ACTION or result.state is not ResultState.DONE or cmd.device not in self._buses:
            return
        request_id = cmd.args.get("request_id")
        if not isinstance(request_id, str) or (cmd.device, request_id) in self._following:
            return
        key = (cmd.device, request_id)
        task = asyncio.create_task(self._follow(cmd, request_id), name=f"priority-{cmd.device}-{request_id}")
        self._following[key] = task
        task.add_done_callback(lambda t: self._done(key, t))

    def _done(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        self._following.pop(key, None)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("following priority request %s on %s failed: %r", key[1], key[0], exc)

    @property
    def following(self) -> list[tuple[str, str]]:
        """(device, request id) of the requests followed now."""
        return list(self._following)

    async def close(self) -> None:
        tasks = list(self._following.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, cmd: Command, request_id: str) -> None:
        seen: set[str] = set()
        group = cmd.args.get("signal_group")
        await self._report(cmd, request_id, "received", group, seen)
        listed = False
        started = self._clock.monotonic()
        while self._clock.monotonic() - started < self._max_s:
            await self._clock.sleep(self._interval_s)
            try:
                values = await self._buses[cmd.device].read(cmd.device, priority=Priority.POLL)
            except DriverError as exc:
                log.warning("priority request %s on %s: not read (%s)", request_id, cmd.device, exc)
                continue
            state = _state_of(request_id, {v.point: v.value for v in values if v.error is None})
            if state is None:
                if listed:
                    log.warning(
                        "priority request %s on %s left the list before a final state", request_id, cmd.device
                    )
                    return
                continue
            listed = True
            await self._report(cmd, request_id, state, group, seen)
            if state in PRIORITY_FINAL:
                return
        log.warning(
            "priority request %s on %s: no final state within %g s", request_id, cmd.device, self._max_s
        )

    async def _report(self, cmd: Command, request_id: str, state: str, group: Value, seen: set[str]) -> None:
        if state in seen or state not in PRIORITY_STATES:
            return
        seen.add(state)
        details: dict[str, Value] = {"command_id": str(cmd.id), "request_id": request_id, "state": state}
        if group is not None:
            details["signal_group"] = group
        event = Event(EventKind.PRIORITY_REQUEST, cmd.device, self._clock.now_ms(), details)
        try:
            await self._events.put(TopicKind.EVENT, encode_event(event))
        except OutboxFull as exc:
            log.error(
                "priority request %s on %s is %s: not reported (%s)", request_id, cmd.device, state, exc
            )
            return
        log.info("priority request %s on %s: %s", request_id, cmd.device, state)


def _state_of(request_id: str, values: Mapping[str, Value]) -> str | None:
    """The state the controller lists for ``request_id`` (the newest slot that has it), or None."""
    found = None
    for point, value in values.items():
        m = _SLOT.match(point)
        if m is not None and value == request_id:
            state = values.get(f"prio{m.group(1)}_state")
            if isinstance(state, str) and state != "none":
                k = int(m.group(1))
                found = (k, state) if found is None or k > found[0] else found
    return None if found is None else found[1]
