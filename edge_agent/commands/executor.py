"""The executor: runs an admitted command on its device (the receiver's :class:`Runner`).

For one command, in order (``docs/protocol.md``, "Execution"):

1. wait for the device: one command at a time per device (a per-device lock, first come first served);
   a command whose expiry passed while it waited ends ``expired``, untouched;
2. a **fresh read** of the device through its bus queue at ``COMMAND`` priority — never the last
   polled values; a device that cannot be read ends ``failed`` (nothing was written);
3. the interlocks (:func:`edge_agent.commands.interlocks.check`) on that read, with the astronomical
   clock at the agent's ``location`` and the device's maintenance flag: ``refused``, naming the interlock;
4. the act, **never retried**: a Modbus write of holding registers (values evaluated over the args with
   their defaults, the params and ``sequence``: the mailbox number, one more than both the last sent
   to the device — kept in the ``book`` before the write, so across restarts too — and the last the
   device says it processed), or a call: an OPC-UA method or a DALI gear command (inputs from args,
   constants, params and the agent's ``secrets``). A driver error ends ``failed`` with its reason;
5. after the action's ``settle_s`` (the injected clock), a fresh read again: every ``expect`` holds ->
   ``done`` with the values read; otherwise ``failed`` with a reason starting ``unconfirmed:``.

**Emergency actions** (``emergency: true``, the bollards' emergency lower) do not queue: they end every
command still waiting for that device as ``failed: pre-empted by emergency <action> (<id>)`` and go to
the bus at once, beside a command that already holds the device (whose write is on the line already;
its read-back then reports what the emergency left, as ``unconfirmed``).

**Maintenance mode** is the agent-level action ``set_maintenance`` (:mod:`edge_agent.commands.maintenance`):
it touches no device and queues behind nothing; the flag is recorded in the ``book`` (the ledger) first.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from drivers.base import PointValue
from drivers.errors import DriverError
from drivers.profiles import expr
from drivers.profiles.actions import ActionSpec
from drivers.profiles.device_actions import DeviceActions
from drivers.scheduler import Priority
from edge_agent.clock import Clock
from edge_agent.commands import astro, interlocks, maintenance
from edge_agent.commands.maintenance import Maintenance
from edge_agent.commands.readback import coded, compare, expression_names, interlock_values, next_sequence
from edge_agent.commands.targets import Book, Location, RegisterBus, Target
from wire.commands import MAX_TEXT, Command, CommandResult, ReadBack, ResultState
from wire.errors import Refusal, UnknownAction
from wire.points import Value

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Device:
    target: Target
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: dict[uuid.UUID, asyncio.Future[str]] = field(default_factory=dict)  # -> pre-emption reason
    sequence: int = 0  # the last mailbox sequence number sent (kept in the book)
    maintenance: Maintenance | None = None  # None: not in maintenance mode


class Executor:
    def __init__(
        self,
        *,
        gateway: str,
        key_id: str,
        targets: Sequence[Target],
        clock: Clock,
        location: Location | None = None,
        secrets: Mapping[str, str] | None = None,
        book: Book | None = None,
        in_maintenance: Mapping[str, Maintenance] | None = None,
        sequences: Mapping[str, int] | None = None,
    ) -> None:
        self._gateway = gateway
        self._key_id = key_id
        self._devices = {t.name: _Device(t) for t in targets}
        self._clock = clock
        self._location = location
        self._secrets = dict(secrets or {})
        self._book = book
        for name, sequence in (sequences or {}).items():
            if name in self._devices:
                self._devices[name].sequence = sequence
        for name, state in (in_maintenance or {}).items():
            if name in self._devices:
                self._devices[name].maintenance = state
                log.warning(
                    "device %s: in maintenance mode since %d (%s)", name, state.since_ms, state.reason
                )

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(self._devices)

    def actions_of(self, device: str) -> tuple[str, ...]:
        """The actions ``device``'s profile declares (not the agent-level ``set_maintenance``)."""
        return tuple(self._device(device).target.actions.actions)

    def set_maintenance(self, device: str, on: bool) -> None:
        """Put a device in maintenance mode (only emergency commands run) or take it out, in memory only
        (a local switch; the centre's ``set_maintenance`` command is recorded in the book)."""
        self._device(device).maintenance = Maintenance(self._clock.now_ms(), None, "local") if on else None
        log.info("device %s: maintenance mode %s", device, "on" if on else "off")

    def maintenance(self, device: str) -> bool:
        return self._device(device).maintenance is not None

    def maintenance_status(self) -> dict[str, dict[str, object]]:
        """Every device's maintenance flag, for ``edge-agent status``."""
        return {name: maintenance.as_status(dev.maintenance) for name, dev in self._devices.items()}

    def max_ttl_ms(self, device: str, action: str) -> int:
        dev = self._device(device)
        if action == maintenance.ACTION:
            return maintenance.MAX_TTL_MS
        return self._spec(dev, action).ttl_ms

    async def run(self, cmd: Command) -> CommandResult:
        dev = self._devices.get(cmd.device)
        if dev is None:
            return self._result(cmd, ResultState.REFUSED, f"no device {cmd.device!r} takes commands here")
        if cmd.action == maintenance.ACTION:
            return await self._set_maintenance(dev, cmd)
        spec = dev.target.actions.actions.get(cmd.action)
        if spec is not None and spec.emergency:
            self._pre_empt(dev, cmd)
            return await self._execute(dev, cmd)
        preempted: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        dev.waiting[cmd.id] = preempted
        acquire: asyncio.Future[bool] = asyncio.ensure_future(dev.lock.acquire())
        try:
            either: list[asyncio.Future[Any]] = [acquire, preempted]
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            dev.waiting.pop(cmd.id, None)
            if not acquire.done():
                acquire.cancel()
                await asyncio.gather(acquire, return_exceptions=True)
        if preempted.done():
            if acquire.done() and not acquire.cancelled():
                dev.lock.release()
            return self._result(cmd, ResultState.FAILED, preempted.result())
        try:
            if self._clock.now_ms() >= cmd.expires_at_ms:
                return self._result(
                    cmd, ResultState.EXPIRED, "its expiry passed while it waited for the device"
                )
            return await self._execute(dev, cmd)
        finally:
            dev.lock.release()

    def _pre_empt(self, dev: _Device, cmd: Command) -> None:
        reason = f"pre-empted by emergency {cmd.action} ({cmd.id})"
        for cmd_id, fut in list(dev.waiting.items()):
            if not fut.done():
                log.warning("command %s on %s: %s", cmd_id, dev.target.name, reason)
                fut.set_result(reason)

    async def _execute(self, dev: _Device, cmd: Command) -> CommandResult:
        actions = dev.target.actions
        try:
            spec = self._spec(dev, cmd.action)
        except UnknownAction as exc:
            return self._result(cmd, ResultState.REFUSED, str(exc))
        try:
            fresh = await self._read(dev)
        except DriverError as exc:
            return self._result(cmd, ResultState.FAILED, f"fresh read: {exc}")
        now = self._clock.now_ms()
        refusal: Refusal | None = None
        if self._location is None:
            refusal = interlocks.night_unknown(actions, spec, cmd.args)
        if refusal is None:
            ctx = interlocks.Context(now, self._is_night(now), dev.maintenance is not None)
            refusal = interlocks.check(actions, cmd.action, cmd.args, interlock_values(fresh), ctx)
        if refusal is not None:
            log.warning("command %s (%s on %s) refused: %s", cmd.id, cmd.action, dev.target.name, refusal)
            return self._result(cmd, ResultState.REFUSED, str(refusal))
        args = interlocks.with_defaults(spec, cmd.args)
        sequence = 0
        if spec.write:
            sequence = dev.sequence = next_sequence(dev.sequence, spec, fresh)
            if self._book is not None:  # kept before it is sent: never sent twice, even after a restart
                await self._book.set_sequence(dev.target.name, sequence)
        try:
            await self._act(dev, spec, args, sequence)
        except Refusal as exc:  # raised before anything was sent
            return self._result(cmd, ResultState.REFUSED, str(exc))
        except DriverError as exc:
            log.error("command %s (%s on %s) failed: %s", cmd.id, cmd.action, dev.target.name, exc)
            return self._result(cmd, ResultState.FAILED, str(exc))
        if spec.read_back is None:
            return self._result(cmd, ResultState.DONE)
        await self._clock.sleep(spec.read_back.settle_s)
        try:
            after = await self._read(dev)
        except DriverError as exc:
            return self._result(cmd, ResultState.FAILED, f"unconfirmed: the read-back failed: {exc}")
        return self._confirm(cmd, spec=spec, actions=actions, args=args, sequence=sequence, after=after)

    async def _set_maintenance(self, dev: _Device, cmd: Command) -> CommandResult:
        if (bad := maintenance.check_args(cmd.args)) is not None:
            return self._result(cmd, ResultState.REFUSED, str(bad))
        now = self._clock.now_ms()
        why = cmd.args.get("reason")
        on = cmd.args["on"] is True
        state = Maintenance(now, why if isinstance(why, str) else None, str(cmd.id)) if on else None
        if self._book is not None:
            await self._book.set_maintenance(dev.target.name, state)  # durable before the answer
        dev.maintenance = state
        log.warning(
            "device %s: maintenance mode %s by command %s", dev.target.name, "on" if on else "off", cmd.id
        )
        return self._result(cmd, ResultState.DONE, None, (ReadBack(maintenance.POINT, on, now),))

    async def _read(self, dev: _Device) -> dict[str, tuple[PointValue, int]]:
        values = await dev.target.bus.read(dev.target.name, priority=Priority.COMMAND)
        now = self._clock.now_ms()
        return {v.point: (v, v.ts_ms if v.ts_ms is not None else now) for v in values}

    async def _act(self, dev: _Device, spec: ActionSpec, args: Mapping[str, Value], sequence: int) -> None:
        actions = dev.target.actions
        if spec.call is not None:
            inputs = {name: self._input(spec, actions, name, args) for name in spec.call.args}
            await dev.target.bus.call(dev.target.name, actions.methods[spec.name], inputs)
            return
        bus = dev.target.bus
        if not isinstance(bus, RegisterBus):
            raise DriverError("its driver cannot write registers", device=dev.target.name)
        names = expression_names(spec, actions, args, sequence)
        for w in actions.writes[spec.name]:
            values = [expr.evaluate(v, names) for v in w.values]
            await bus.write_registers(dev.target.name, w.address, values)

    def _input(self, spec: ActionSpec, actions: DeviceActions, name: str, args: Mapping[str, Value]) -> Value:
        assert spec.call is not None
        source = spec.call.args[name]
        if source.arg is not None:
            return coded(spec, source.arg, args.get(source.arg))
        if source.param is not None:
            return actions.params[source.param]
        if source.secret is not None:
            if source.secret not in self._secrets:
                raise Refusal(f"secret {source.secret!r} is not configured (input {name} of {spec.name!r})")
            return self._secrets[source.secret]
        return source.const

    def _confirm(
        self,
        cmd: Command,
        *,
        spec: ActionSpec,
        actions: DeviceActions,
        args: Mapping[str, Value],
        sequence: int,
        after: Mapping[str, tuple[PointValue, int]],
    ) -> CommandResult:
        read_back, misses = compare(spec, actions, args, sequence, after, now_ms=self._clock.now_ms())
        if misses:
            reason = "unconfirmed: " + "; ".join(misses)
            log.error("command %s (%s on %s): %s", cmd.id, cmd.action, cmd.device, reason)
            return self._result(cmd, ResultState.FAILED, reason, read_back)
        return self._result(cmd, ResultState.DONE, None, read_back)

    def _is_night(self, now_ms: int) -> bool:
        if self._location is None:
            return False  # only reached when no night floor judges the command (night_unknown)
        return astro.is_night(self._location.latitude, self._location.longitude, now_ms)

    def _device(self, device: str) -> _Device:
        dev = self._devices.get(device)
        if dev is None:
            known = ", ".join(self._devices) or "none"
            raise UnknownAction(f"no device {device!r} takes commands here (devices: {known})")
        return dev

    @staticmethod
    def _spec(dev: _Device, action: str) -> ActionSpec:
        spec = dev.target.actions.actions.get(action)
        if spec is None:
            known = ", ".join(dev.target.actions.actions) or "none"
            raise UnknownAction(f"the device has no action {action!r} (it has: {known})")
        return spec

    def _result(
        self,
        cmd: Command,
        state: ResultState,
        reason: str | None = None,
        read_back: tuple[ReadBack, ...] = (),
    ) -> CommandResult:
        if reason is not None and len(reason) > MAX_TEXT:
            reason = reason[: MAX_TEXT - 1] + "…"
        return CommandResult(
            cmd.id,
            self._gateway,
            state,
            self._clock.now_ms(),
            self._key_id,
            reason=reason,
            read_back=read_back,
        )
