"""Maintenance mode, set from the centre: the agent-level action ``set_maintenance``.

Every device that takes commands has it besides its profile's actions. It is a signed command like any
other (signature, expiry, replay: the receiver's gate and the ledger), with the args ``on`` (bool,
required) and ``reason`` (text, at most 128 characters, optional). It touches no device: the executor
records the flag **durably** (:class:`edge_agent.commands.targets.Book`: the command ledger's file)
before it answers, so it survives a restart, and reports ``done`` with the read-back
``maintenance_mode`` (the flag as it now stands). While it is on, the device refuses every command
except the emergency ones (:mod:`edge_agent.commands.interlocks`, interlock ``maintenance_mode``);
``set_maintenance`` itself is never refused by it, or the mode could not be left.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from drivers.profiles.actions import MAINTENANCE, SET_MAINTENANCE, ArgSpec, ArgType
from edge_agent.commands.args import check_declared
from wire.errors import BadArgument
from wire.points import Value

ACTION = SET_MAINTENANCE
POINT = MAINTENANCE  # the read-back's point: the agent's flag, "maintenance_mode"
MAX_TTL_MS = 300_000
ARGS = (
    ArgSpec(name="on", type=ArgType.BOOL),
    ArgSpec(name="reason", type=ArgType.STR, required=False, max_length=128),
)


@dataclass(frozen=True, slots=True)
class Maintenance:
    """A device in maintenance mode: since when, why, and by which command (or ``local``)."""

    since_ms: int
    reason: str | None
    command_id: str


def check_args(args: Mapping[str, Value]) -> BadArgument | None:
    """None if ``args`` fit ``set_maintenance``, else the first misfit, naming the arg."""
    return check_declared(ACTION, ARGS, args)


def as_status(state: Maintenance | None) -> dict[str, object]:
    """One device's flag as ``edge-agent status`` shows it."""
    if state is None:
        return {"on": False}
    return {"on": True, "since_ms": state.since_ms, "reason": state.reason, "command_id": state.command_id}
