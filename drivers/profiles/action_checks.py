"""The checks a profile's actions and interlocks get when the profile is loaded, across declarations:
every name an expression, an input or an interlock uses exists (a param, a point, an arg), every
interlock an action lists is declared, nothing is declared twice. Errors name the action or interlock
and the field."""

from __future__ import annotations

from collections.abc import Mapping

from drivers.profiles import expr
from drivers.profiles.actions import (
    MAINTENANCE,
    SEQUENCE,
    SET_MAINTENANCE,
    ActionSpec,
    ArgRange,
    ArgType,
    NightFloor,
    PointState,
    duplicates,
)


def check_actions(
    actions: tuple[ActionSpec, ...],
    interlocks: tuple[PointState | ArgRange | NightFloor, ...],
    *,
    params: tuple[str, ...],
    param_defaults: Mapping[str, int | str],
    points: frozenset[str],
    protocol: str,
) -> None:
    """Check what the actions refer to against the profile; raises ValueError naming action and field.
    ``points`` are the plain point names (a repeated OPC-UA point's names exist per device only)."""
    known_params = set(params) | set(param_defaults)
    if dup := duplicates([a.name for a in actions]):
        raise ValueError(f"actions: {dup!r} declared twice")
    if dup := duplicates([i.name for i in interlocks]):
        raise ValueError(f"interlocks: {dup!r} declared twice")
    if any(i.name == MAINTENANCE for i in interlocks):
        raise ValueError(f"interlocks: {MAINTENANCE!r} is built in")
    if any(a.name == SET_MAINTENANCE for a in actions):
        raise ValueError(f"actions: {SET_MAINTENANCE!r} is built in (the agent's maintenance mode)")
    by_name = {i.name: i for i in interlocks}
    for i in interlocks:
        _check_interlock(i, known_params, points)
    for a in actions:
        _check_action(a, by_name, known_params, points, protocol)


def _check_action(
    a: ActionSpec,
    interlocks: Mapping[str, PointState | ArgRange | NightFloor],
    params: set[str],
    points: frozenset[str],
    protocol: str,
) -> None:
    where = f"actions ({a.name})"
    if protocol == "modbus" and a.call is not None:
        raise ValueError(f"{where}.call: a Modbus profile acts by write")
    if protocol == "opcua" and a.write:
        raise ValueError(f"{where}.write: an OPC-UA profile acts by call (a method)")
    if protocol == "dali" and a.write:
        raise ValueError(f"{where}.write: a DALI profile acts by call (a gear command)")
    ints = {x.name for x in a.args if x.type in (ArgType.INT, ArgType.BOOL, ArgType.ENUM)}
    for k, w in enumerate(a.write):
        _names_in(w.reg, params, f"{where}.write[{k}].register")
        for j, v in enumerate(w.values):
            _names_in(v, params | ints | {SEQUENCE}, f"{where}.write[{k}].values[{j}]")
    _check_inputs(a, params, points, where)
    for k, name in enumerate(a.interlocks):
        lock = interlocks.get(name)
        if lock is None:
            raise ValueError(f"{where}.interlocks[{k}]: {name!r} is not declared in interlocks")
        for used in _args_of(lock):
            if a.arg(used) is None:
                raise ValueError(f"{where}.interlocks[{k}]: {name!r} needs arg {used!r}")


def _check_inputs(a: ActionSpec, params: set[str], points: frozenset[str], where: str) -> None:
    """A method's inputs and the read-back's expectations name args, params and points that exist."""
    ints = {x.name for x in a.args if x.type in (ArgType.INT, ArgType.BOOL, ArgType.ENUM)}
    for name, c in a.call.args.items() if a.call is not None else ():
        if c.arg is not None and a.arg(c.arg) is None:
            raise ValueError(f"{where}.call.args.{name}.arg: {c.arg!r} is not an arg of the action")
        if c.param is not None and c.param not in params:
            raise ValueError(f"{where}.call.args.{name}.param: {c.param!r} is not a param")
    for k, e in enumerate(a.read_back.expect if a.read_back is not None else ()):
        if e.point not in points:
            raise ValueError(f"{where}.read_back.expect[{k}].point: {e.point!r} is not a point")
        if e.arg is not None and a.arg(e.arg) is None:
            raise ValueError(f"{where}.read_back.expect[{k}].arg: {e.arg!r} is not an arg")
        if e.expr is not None:
            _names_in(e.expr, params | ints | {SEQUENCE}, f"{where}.read_back.expect[{k}].expr")


def _check_interlock(
    lock: PointState | ArgRange | NightFloor, params: set[str], points: frozenset[str]
) -> None:
    where = f"interlocks ({lock.name})"
    bounds: list[tuple[str, float | str | None]] = []
    match lock:
        case PointState():
            unknown = sorted(set(lock.refuse_if) - points)
            if unknown:
                raise ValueError(f"{where}.refuse_if: {unknown[0]!r} is not a point of the profile")
        case ArgRange():
            bounds = [("min", lock.min), ("max", lock.max)]
            if lock.min is None and lock.max is None:
                raise ValueError(f"{where}: give min, max or both")
        case NightFloor():
            bounds = [("floor", lock.floor), ("level", lock.level)]
    for field, bound in bounds:
        if isinstance(bound, str) and bound not in params:
            raise ValueError(f"{where}.{field}: {bound!r} is neither a number nor a param")


def _args_of(lock: PointState | ArgRange | NightFloor) -> list[str]:
    match lock:
        case PointState():
            return [lock.unless_arg] if lock.unless_arg else []
        case ArgRange():
            return [lock.arg]
        case NightFloor():
            return [lock.override_arg] if lock.arg is None else [lock.arg, lock.override_arg]


def _names_in(e: int | str, allowed: set[str], where: str) -> None:
    try:
        used = expr.names(e)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if unknown := sorted(used - allowed):
        known = ", ".join(sorted(allowed)) or "none"
        raise ValueError(f"{where}: {unknown[0]!r} is not an int/bool/enum arg, param or sequence ({known})")
