"""The command path of a running agent, built from the ``commands:`` section: the ledger, the executor
over every device whose profile declares actions, the receiver on the gateway's command topic (results
to the outbox), the ledger's pruning, and the traffic controllers' central watchdog.

:meth:`CommandPath.build` opens the ledger and routes the command topic; :meth:`CommandPath.start`
runs, supervised: the receiver (first reporting every command a restart left without a final state as
``failed: outcome unknown``; its runner is the executor, then the bus-priority tracker), the pruning,
and the watchdog feeder; :meth:`CommandPath.close` stops the tracker's follows and closes the ledger.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from drivers.base import Driver, Value
from drivers.opcua.config import OpcUaDevice
from edge_agent.clock import Clock
from edge_agent.commands import priority
from edge_agent.commands.executor import Executor
from edge_agent.commands.ledger import Ledger
from edge_agent.commands.priority import PriorityTracker
from edge_agent.commands.receiver import Receiver, Results, Runner
from edge_agent.commands.targets import CommandBus, Location, Target
from edge_agent.commands.watchdog import CentreWatchdogFeeder
from edge_agent.config.resolved import Bus, ResolvedConfig
from mqtt_session import MqttLink
from wire import topics
from wire.commands import Command, CommandResult

PRUNE_EVERY_S = 600.0
Spawn = Callable[[asyncio.TaskGroup, Coroutine[Any, Any, None], str], object]


def command_targets(buses: Sequence[Bus], drivers: Sequence[Driver]) -> list[Target]:
    """Every device that declares actions, with the driver of its bus (``drivers`` in the buses' order)."""
    targets = []
    for bus, driver in zip(buses, drivers, strict=True):
        for dev in bus.devices:
            if dev.actions is not None and dev.actions.actions:
                if not isinstance(driver, CommandBus):
                    raise TypeError(f"bus {bus.name!r}: its driver cannot run commands")
                targets.append(Target(dev.name, dev.actions, driver))
    return targets


class Followed:
    """The receiver's runner: the executor, then the bus-priority tracker on each final result."""

    def __init__(self, executor: Executor, tracker: PriorityTracker) -> None:
        self._executor = executor
        self._tracker = tracker

    def max_ttl_ms(self, device: str, action: str) -> int:
        return self._executor.max_ttl_ms(device, action)

    async def run(self, cmd: Command) -> CommandResult:
        result = await self._executor.run(cmd)
        self._tracker.after(cmd, result)
        return result


class Dispatch:
    """The receiver's runner: agent functions that take commands as a device of their own (the lighting
    runner, device ``lighting``: overrides) by their name, every other device to the executor."""

    def __init__(self, devices: Runner) -> None:
        self._devices = devices
        self.functions: dict[str, Runner] = {}

    def max_ttl_ms(self, device: str, action: str) -> int:
        return (self.functions.get(device) or self._devices).max_ttl_ms(device, action)

    async def run(self, cmd: Command) -> CommandResult:
        return await (self.functions.get(cmd.device) or self._devices).run(cmd)


class Events(Results, priority.Events, Protocol):
    """The outbox as the command path uses it: results, and events (the bus-priority lifecycle)."""


@dataclass
class CommandPath:
    ledger: Ledger
    executor: Executor
    receiver: Receiver
    feeder: CentreWatchdogFeeder | None
    clock: Clock
    tracker: PriorityTracker
    dispatch: Dispatch

    @classmethod
    async def build(
        cls,
        config: ResolvedConfig | None,
        *,
        link: MqttLink,
        results: Events,
        drivers: Sequence[Driver],
        last_heard: Callable[[], float | None],
        clock: Clock,
    ) -> CommandPath | None:
        """None when the config has no ``commands:`` section (the gateway takes no commands), or no
        config is given (the agent runs without its buses)."""
        commands = config.commands if config is not None else None
        if config is None or commands is None:
            return None
        cfg = config.config
        targets = command_targets(config.buses[: len(drivers)], drivers)
        location = Location(cfg.location.latitude, cfg.location.longitude) if cfg.location else None
        ledger = await Ledger.open(commands.ledger_path, clock=clock, skew_ms=commands.skew_ms)
        executor = Executor(
            gateway=cfg.gateway,
            key_id=commands.signer.key_id,
            targets=targets,
            clock=clock,
            location=location,
            secrets=cfg.secrets,
            book=ledger,
            in_maintenance=await ledger.maintenance(),
            sequences=await ledger.sequences(),
        )
        followed = {t.name: t.bus for t in targets if priority.ACTION in t.actions.actions}
        tracker = PriorityTracker(buses=followed, events=results, clock=clock)
        dispatch = Dispatch(Followed(executor, tracker))
        receiver = Receiver(
            gateway=cfg.gateway,
            ring=commands.ring,
            signer=commands.signer,
            ledger=ledger,
            runner=dispatch,
            results=results,
            clock=clock,
            skew_ms=commands.skew_ms,
        )
        link.route(topics.topic(cfg.site, cfg.gateway, topics.TopicKind.COMMAND), receiver.on_message, qos=1)
        opcua = {d.name for b in config.buses for d in b.devices if isinstance(d, OpcUaDevice)}
        controllers = [t for t in targets if t.actions.methods and t.name in opcua]  # not DALI gear
        feeder = None
        if controllers:
            by_device = {t.name: t.bus for t in controllers}

            async def call(device: str, action: str, args: Mapping[str, Value]) -> Value:
                return await by_device[device].call(device, action, args)

            feeder = CentreWatchdogFeeder(
                call=call, devices=list(by_device), last_heard=last_heard, clock=clock
            )
        return cls(ledger, executor, receiver, feeder, clock, tracker, dispatch)

    def start(self, spawn: Spawn, tasks: asyncio.TaskGroup) -> None:
        spawn(tasks, self._receive(), "commands")
        spawn(tasks, self._prune(), "commands-prune")
        if self.feeder is not None:
            spawn(tasks, self.feeder.run(), "centre-watchdog")

    async def close(self) -> None:
        await self.tracker.close()
        await self.ledger.close()

    async def _receive(self) -> None:
        await self.receiver.recover()  # the outbox is open: results of commands a restart cut short
        await self.receiver.run()

    async def _prune(self) -> None:
        while True:
            await self.clock.sleep(PRUNE_EVERY_S)
            await self.ledger.prune()
