"""The interlocks: may this command run on this device now? Pure — no I/O, no clock of its own.

The executor reads the device *at execution time* through the bus queue and passes that **fresh read**
(point name -> value; None or absent: not read, e.g. a bad reading), with the :class:`Context` (now,
night by the astronomical clock, the device's maintenance mode). :func:`check` then returns None or the
:class:`~wire.errors.Refusal` that becomes the result's reason, in this order:

1. the action exists on the device (:class:`~wire.errors.UnknownAction`);
2. the arguments fit the declaration: none unknown, none required missing, each of its type, bounds and
   allowed values (:class:`~wire.errors.BadArgument`, naming the arg). An emergency action is checked
   here too: a malformed command is not one the gateway can honour;
3. an ``emergency: true`` action passes: no interlock, no maintenance mode refuses it;
4. ``maintenance_mode``: a device in maintenance refuses everything else;
5. the action's interlocks, in declared order (:class:`~wire.errors.InterlockRefusal`, naming it).

A ``point_state`` interlock refuses a point it cannot see as well as one in a refused state: what was not
read cannot be shown to be safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from drivers.profiles.actions import MAINTENANCE, ActionSpec, ArgRange, NightFloor, PointState
from drivers.profiles.device_actions import DeviceActions
from edge_agent.commands.args import check_declared
from wire.errors import BadArgument, InterlockRefusal, Refusal, UnknownAction
from wire.points import Value


@dataclass(frozen=True, slots=True)
class Context:
    now_ms: int  # UTC ms, when the fresh read was taken
    is_night: bool  # between sunset and sunrise at the device (edge_agent.commands.astro.is_night)
    maintenance: bool  # the device is in maintenance mode (the agent's flag)


def check(
    device: DeviceActions,
    action: str,
    args: Mapping[str, Value],
    fresh: Mapping[str, Value],
    ctx: Context,
) -> Refusal | None:
    """None if ``action`` with ``args`` may run on ``device`` now, else the refusal (see the module)."""
    spec = device.actions.get(action)
    if spec is None:
        known = ", ".join(device.actions) or "none"
        return UnknownAction(f"the device has no action {action!r} (it has: {known})")
    if (bad := check_args(spec, args)) is not None:
        return bad
    if spec.emergency:
        return None
    if ctx.maintenance:
        return InterlockRefusal(MAINTENANCE, "the device is in maintenance mode: only emergency commands")
    values = with_defaults(spec, args)
    for name in spec.interlocks:
        if (reason := _refuses(device, device.interlocks[name], values, fresh, ctx)) is not None:
            return InterlockRefusal(name, reason)
    return None


def night_unknown(
    device: DeviceActions, spec: ActionSpec, args: Mapping[str, Value]
) -> InterlockRefusal | None:
    """Without a location, night cannot be told from day: the refusal of a night floor that would judge
    the command (its override not given), or None."""
    for name in spec.interlocks:
        lock = device.interlocks[name]
        if isinstance(lock, NightFloor) and args.get(lock.override_arg) is not True:
            return InterlockRefusal(name, "no location configured: night cannot be told from day")
    return None


def check_args(action: ActionSpec, args: Mapping[str, Value]) -> BadArgument | None:
    """None if ``args`` fit the action's declaration, else the first misfit, naming the arg."""
    return check_declared(action.name, action.args, args)


def with_defaults(action: ActionSpec, args: Mapping[str, Value]) -> dict[str, Value]:
    """The command's args with the declared defaults of those it left out."""
    values: dict[str, Value] = {a.name: a.default for a in action.args if a.default is not None}
    values.update(args)
    return values


def _refuses(
    device: DeviceActions,
    lock: PointState | ArgRange | NightFloor,
    args: Mapping[str, Value],
    fresh: Mapping[str, Value],
    ctx: Context,
) -> str | None:
    match lock:
        case PointState():
            if lock.unless_arg is not None and args.get(lock.unless_arg) is True:
                return None
            for point, refused in lock.refuse_if.items():
                value = fresh.get(point)
                if value is None:
                    return f"{point} was not read: it cannot be shown to be safe"
                if _same(value, refused):
                    hint = f" (send {lock.unless_arg}: true to go ahead)" if lock.unless_arg else ""
                    return f"{point} is {value!r}{hint}"
            return None
        case ArgRange():
            value = _number(args.get(lock.arg))
            if lock.min is not None and value < (low := device.number(lock.min)):
                return f"{lock.arg} {value:g} is below this device's minimum {low:g}"
            if lock.max is not None and value > (high := device.number(lock.max)):
                return f"{lock.arg} {value:g} is above this device's maximum {high:g}"
            return None
        case NightFloor():
            if not ctx.is_night or args.get(lock.override_arg) is True:
                return None
            level = _number(args.get(lock.arg)) if lock.arg is not None else device.number(_given(lock.level))
            floor = device.number(lock.floor)
            if level < floor:
                return (
                    f"level {level:g} is below the night floor {floor:g} between sunset and sunrise "
                    f"(send {lock.override_arg}: true to go below it)"
                )
            return None


def _same(value: Value, refused: bool | int | float | str) -> bool:
    """Equal and of the same kind: ``True`` is not ``1`` here and a label is not a code; 1 is 1.0."""
    if isinstance(value, bool) or isinstance(refused, bool):
        return value is refused
    if isinstance(value, int | float) and isinstance(refused, int | float):
        return value == refused
    return type(value) is type(refused) and value == refused


def _number(value: Value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{value!r} is not a number (the args were checked before the interlocks)")
    return float(value)


def _given(level: float | str | None) -> float | str:
    if level is None:
        raise TypeError("a night_floor interlock has an arg or a level (checked when the profile loads)")
    return level
