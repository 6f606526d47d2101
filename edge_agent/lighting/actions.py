"""The lighting runner as a device that takes commands (device ``lighting``): overrides from the centre
(TALQ ``OverrideCommand``), signed and checked like any command, recorded durably before the answer.

- ``override``: ``level`` (0-100 %), ``devices`` and/or ``groups`` (comma-separated names; groups of
  the installed set), ``duration_s`` (1 s to 7 days), optional ``start_ms`` (default: now) and
  ``ramp_s``. Its id is the command's; a newer override replaces the older on the devices it names.
  ``done`` with the read-back ``devices`` (those it took) and ``expiry_ms``.
- ``cancel_override``: ``override_id``: its devices return to their program at once; ``done`` with
  the read-back ``devices`` freed, ``failed`` when that override is not in force anywhere.

The level commands that follow go through the same path as every program step.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from drivers.profiles.actions import ArgSpec, ArgType
from edge_agent.clock import Clock
from edge_agent.commands.args import check_declared
from edge_agent.lighting.overrides import Override
from edge_agent.lighting.runner import LightingRunner
from edge_agent.lighting.store import LightingStore
from wire.commands import Command, CommandResult, ReadBack, ResultState
from wire.errors import BadArgument, UnknownAction
from wire.points import Value

log = logging.getLogger(__name__)

DEVICE = "lighting"
MAX_TTL_MS = 900_000
ARGS: dict[str, tuple[ArgSpec, ...]] = {
    "override": (
        ArgSpec(name="level", type=ArgType.INT, min=0, max=100),
        ArgSpec(name="devices", type=ArgType.STR, required=False, max_length=512),
        ArgSpec(name="groups", type=ArgType.STR, required=False, max_length=512),
        ArgSpec(name="duration_s", type=ArgType.INT, min=1, max=7 * 86400),
        ArgSpec(name="start_ms", type=ArgType.INT, required=False, min=0),
        ArgSpec(name="ramp_s", type=ArgType.INT, required=False, min=0, max=3600),
    ),
    "cancel_override": (ArgSpec(name="override_id", type=ArgType.STR, max_length=64),),
}


def check_args(action: str, args: Mapping[str, Value]) -> BadArgument | None:
    return check_declared(action, ARGS[action], args)


def _names(v: Value | None) -> list[str]:
    return [n.strip() for n in v.split(",") if n.strip()] if isinstance(v, str) else []


class LightingActions:
    """A :class:`edge_agent.commands.receiver.Runner` for the device ``lighting``."""

    def __init__(
        self, *, gateway: str, key_id: str, runner: LightingRunner, store: LightingStore, clock: Clock
    ) -> None:
        self._gateway = gateway
        self.key_id = key_id  # this gateway's: it signs the results
        self._runner = runner
        self._store = store
        self._clock = clock

    def max_ttl_ms(self, device: str, action: str) -> int:
        if action not in ARGS:
            raise UnknownAction(f"the lighting function has no action {action!r} (it has: {', '.join(ARGS)})")
        return MAX_TTL_MS

    async def run(self, cmd: Command) -> CommandResult:
        if (bad := check_args(cmd.action, cmd.args)) is not None:
            return self._result(cmd, ResultState.REFUSED, str(bad))
        if cmd.action == "cancel_override":
            oid = str(cmd.args["override_id"])
            freed = self._runner.cancel(oid)
            await self._store.forget_overrides([oid])
            if not freed:
                return self._result(cmd, ResultState.FAILED, f"no override {oid!r} in force")
            return self._result(cmd, ResultState.DONE, None, ("devices", ",".join(freed)))
        return await self._override(cmd)

    async def _override(self, cmd: Command) -> CommandResult:
        devices = set(_names(cmd.args.get("devices")))
        pset = self._runner.program_set
        for g in _names(cmd.args.get("groups")):
            members = pset.groups.get(g) if pset is not None else None
            if members is None:
                return self._result(
                    cmd, ResultState.REFUSED, f"argument 'groups': no group {g!r} in the running set"
                )
            devices.update(members)
        unknown = sorted(devices - set(self._runner.devices))
        if unknown:
            return self._result(cmd, ResultState.REFUSED, f"no luminaire {unknown[0]!r} on this gateway")
        if not devices:
            return self._result(
                cmd, ResultState.REFUSED, "argument 'devices': names no device (nor 'groups')"
            )
        start_ms = cmd.args.get("start_ms")
        start = _at(start_ms if isinstance(start_ms, int) else self._clock.now_ms())
        duration = cmd.args["duration_s"]
        assert isinstance(duration, int)
        level, ramp = cmd.args["level"], cmd.args.get("ramp_s", 0)
        assert isinstance(level, int)
        o = Override(str(cmd.id), frozenset(devices), level, start, start + dt.timedelta(seconds=duration),
                     cmd.issued_at_ms, float(ramp) if isinstance(ramp, int) else 0.0)  # fmt: skip
        await self._store.put_override(o)  # durable before the answer
        taken = self._runner.override(o)
        log.info("override %s: %d %% on %s until %s", o.id, level, ",".join(taken), o.expiry.isoformat())
        return self._result(
            cmd,
            ResultState.DONE,
            None,
            ("devices", ",".join(taken)),
            ("expiry_ms", round(o.expiry.timestamp() * 1000)),
        )

    def _result(
        self, cmd: Command, state: ResultState, reason: str | None, *read_back: tuple[str, Value]
    ) -> CommandResult:
        now = self._clock.now_ms()
        return CommandResult(
            cmd.id,
            self._gateway,
            state,
            now,
            self.key_id,
            reason=reason,
            read_back=tuple(ReadBack(p, v, now) for p, v in read_back),
        )


def _at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
