"""The lighting of a running agent, built from the ``lighting:`` section: the store, the installer on the
gateway's lighting topic, the runner over every device that can ``set_level``, each of its orders run as
a command through the command path (after its authentication gate), the cabinet's mains contactor (every
device that can ``switch``, e.g. profile ``cabinet-contactor``) switched the same way, the ``lighting``
device's actions (overrides) on the receiver's dispatch, and the fault monitor that judges every
luminaire poll (:meth:`LightingPath.watch`).

:meth:`LightingPath.start` runs, supervised: the installer, and the runner — first the stored set and
the overrides in force, so the street runs its program before the centre is heard from.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge_agent.clock import Clock
from edge_agent.commands.wiring import CommandPath
from edge_agent.config.lighting import ClockSync
from edge_agent.config.resolved import ResolvedConfig
from edge_agent.lighting.actions import DEVICE, LightingActions
from edge_agent.lighting.clocksync import kernel_synchronised
from edge_agent.lighting.faults import FaultMonitor
from edge_agent.lighting.installer import Installer
from edge_agent.lighting.runner import LightingRunner, Order
from edge_agent.lighting.store import LightingStore
from edge_agent.outbox.store import Outbox
from edge_agent.poll.poller import DevicePoller
from lighting.sun import Place
from mqtt_session import MqttLink
from wire import topics
from wire.commands import MAX_TEXT, Command, ResultState
from wire.events import Event, EventKind, encode_event
from wire.points import Reading, Value

log = logging.getLogger(__name__)

LEVEL_ACTION = "set_level"
SWITCH_ACTION = "switch"  # a mains contactor's relay output (configs/profiles/cabinet-contactor.yaml)
POWER_CYCLE_BIT = 1 << 7  # the luminaire profile's status b7: the gear saw a power cycle (DALI)
Spawn = Callable[[asyncio.TaskGroup, Coroutine[Any, Any, None], str], object]


@dataclass
class LightingPath:
    store: LightingStore
    runner: LightingRunner
    installer: Installer
    actions: LightingActions
    faults: FaultMonitor
    _commands: CommandPath
    _outbox: Outbox
    _clock: Clock
    _ttl_ms: int
    _gateway: str
    _reported: dict[str, tuple[int, str]] = field(default_factory=dict)  # group -> (level, reason) said

    @classmethod
    async def build(
        cls,
        config: ResolvedConfig,
        *,
        link: MqttLink,
        outbox: Outbox,
        commands: CommandPath | None,
        clock: Clock,
    ) -> LightingPath | None:
        """None without a ``lighting:`` section, or without the command path (a flush runs no buses)."""
        cfg = config.config
        lc = cfg.lighting
        if lc is None or config.lighting_path is None or commands is None or config.commands is None:
            return None
        assert cfg.location is not None  # the config model requires it beside lighting:
        executor = commands.executor
        devices = [d for d in executor.devices if LEVEL_ACTION in executor.actions_of(d)]
        contactors = [d for d in executor.devices if SWITCH_ACTION in executor.actions_of(d)]
        store = await LightingStore.open(config.lighting_path)
        holder: list[LightingPath] = []

        async def apply(order: Order) -> bool:
            return await holder[0].apply(order)

        async def switch(on: bool, reason: str) -> bool:
            return await holder[0].switch(contactors, on, reason)

        async def report(event: Event) -> None:
            await outbox.put(topics.TopicKind.EVENT, encode_event(event))

        place = Place(cfg.location.latitude, cfg.location.longitude, lc.timezone)
        runner = LightingRunner(
            devices=devices,
            place=place,
            clock=clock,
            apply=apply,
            default_level=lc.default_level,
            clock_step_tolerance_s=lc.clock_step_tolerance_s,
            tick_s=lc.tick_s,
            retry_s=lc.retry_s,
            switch=switch if contactors else None,
            synchronised=kernel_synchronised if lc.clock_sync is ClockSync.KERNEL else None,
        )
        if contactors and not lc.faults.switched_mains:
            log.warning("lighting: a contactor switches the mains, but lighting.faults.switched_mains is off")
        if lc.clock_sync is ClockSync.KERNEL and kernel_synchronised() is None:
            log.warning("lighting: the kernel cannot say whether the clock is synchronised: trusted")
        faults = FaultMonitor(
            config=lc.faults,
            place=place,
            wanted=lambda device, at: runner.order_for(device, at).level,
            report=report,
        )
        installer = Installer(
            gateway=cfg.gateway,
            ring=config.commands.ring,
            store=store,
            runner=runner,
            report=report,
            clock=clock,
        )
        actions = LightingActions(
            gateway=cfg.gateway, key_id=config.commands.signer.key_id, runner=runner, store=store, clock=clock
        )
        link.route(
            topics.topic(cfg.site, cfg.gateway, topics.TopicKind.LIGHTING), installer.on_message, qos=1
        )
        commands.dispatch.functions[DEVICE] = actions
        path = cls(
            store,
            runner,
            installer,
            actions,
            faults,
            commands,
            outbox,
            clock,
            round(lc.order_ttl_s * 1000),
            cfg.gateway,
        )
        holder.append(path)
        log.info(
            "lighting: %d luminaires, %d contactors, time zone %s", len(devices), len(contactors), lc.timezone
        )
        return path

    def watch(self, pollers: Sequence[DevicePoller]) -> None:
        """Every poll of the luminaires goes to the fault monitor too, and a gear that says it was
        power-cycled (status bit 7: it lit at its power-on level) is told its level again."""
        for p in pollers:
            p.on_poll = self._observe

    async def _observe(self, readings: Sequence[Reading]) -> None:
        for r in readings:
            if r.point == "status" and isinstance(r.value, int) and r.value & POWER_CYCLE_BIT:
                self.runner.forget(r.device)
        await self.faults.observe_readings(readings)

    def start(self, spawn: Spawn, tasks: asyncio.TaskGroup) -> None:
        spawn(tasks, self.installer.run(), "lighting-installer")
        spawn(tasks, self._run(), "lighting")

    async def close(self) -> None:
        await self.store.close()

    async def _run(self) -> None:
        await self.installer.load()
        for o in await self.store.overrides():
            self.runner.override(o)
        await self.runner.run()

    async def apply(self, order: Order) -> bool:
        """One order as a command of the gateway's own, under the installed set's authority."""
        cmd = self._command(order.device, LEVEL_ACTION, {"level": order.level}, order.reason)
        result = await self._commands.receiver.run_local(cmd)
        await self._said(order, result.state)
        return result.state is ResultState.DONE

    async def switch(self, contactors: list[str], on: bool, reason: str) -> bool:
        """Every contactor switched as a command of the gateway's own; True once all read back."""
        done = True
        for device in contactors:
            cmd = self._command(device, SWITCH_ACTION, {"on": on}, reason)
            result = await self._commands.receiver.run_local(cmd)
            state = "on" if on else "off"
            log.info("lighting: contactor %s %s (%s): %s", device, state, reason, result.state)
            done = done and result.state is ResultState.DONE
        return done

    def _command(self, device: str, action: str, args: dict[str, Value], reason: str) -> Command:
        now = self._clock.now_ms()
        push = self.installer.push
        version = self.runner.version
        authority = f"lighting set v{version}" if version is not None else "lighting default"
        return Command(
            id=uuid.uuid4(),
            gateway=self._gateway,
            device=device,
            action=action,
            args=args,
            issued_at_ms=now,
            expires_at_ms=now + self._ttl_ms,
            issuer=f"{authority}: {reason}"[:MAX_TEXT],
            key_id=push.key_id if push is not None else self.actions.key_id,
        )

    async def _said(self, order: Order, state: ResultState) -> None:
        """A ``lighting_level`` event when the group of ``order.device`` (its set's group, else itself) is
        told something new."""
        pset = self.runner.program_set
        group = next(
            (g for g, members in (pset.groups if pset else {}).items() if order.device in members), None
        )
        name = group or order.device
        said = (order.level, order.reason)
        if self._reported.get(name) == said:
            return
        self._reported[name] = said
        details: dict[str, Value] = {
            "level": order.level,
            "reason": order.reason[:MAX_TEXT],
            "state": state.value,
        }
        if order.version is not None:
            details["version"] = order.version
        event = Event(EventKind.LIGHTING_LEVEL, name, self._clock.now_ms(), details)
        await self._outbox.put(topics.TopicKind.EVENT, encode_event(event))
