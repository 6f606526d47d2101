"""What an action's declaration becomes for one command on one device (pure): the names its register and
read-back expressions see (integer params, coded args, the mailbox ``sequence`` and how the next one is
chosen), the fresh read as the interlocks take it, and the read-back compared with what the action
expects."""

from __future__ import annotations

from collections.abc import Mapping

from drivers.base import PointValue
from drivers.profiles import expr
from drivers.profiles.actions import SEQUENCE, ActionSpec, ArgType, Expect
from drivers.profiles.device_actions import DeviceActions
from wire.commands import ReadBack
from wire.points import Value


def compare(
    spec: ActionSpec,
    actions: DeviceActions,
    args: Mapping[str, Value],
    sequence: int,
    after: Mapping[str, tuple[PointValue, int]],
    *,
    now_ms: int,
) -> tuple[tuple[ReadBack, ...], list[str]]:
    """The values read back, and what differs from the action's expectations (empty: confirmed)."""
    assert spec.read_back is not None
    read_back: list[ReadBack] = []
    misses: list[str] = []
    names = expression_names(spec, actions, args, sequence)
    for e in spec.read_back.expect:
        pv, ts = after.get(e.point, (PointValue(e.point, None, "not read"), now_ms))
        read_back.append(ReadBack(e.point, pv.value, ts))
        wanted = _wanted(e, args, names)
        if pv.error is not None:
            misses.append(f"{e.point} was not read ({pv.error}), expected {wanted!r}")
        elif not _matches(pv.value, wanted, e.tolerance):
            misses.append(f"{e.point} is {pv.value!r}, expected {wanted!r}")
    return tuple(read_back), misses


def interlock_values(fresh: Mapping[str, tuple[PointValue, int]]) -> dict[str, Value]:
    """The fresh read as the interlocks take it: a point with an error is not read (None)."""
    return {name: (pv.value if pv.error is None else None) for name, (pv, _) in fresh.items()}


def sequence_point(spec: ActionSpec) -> str | None:
    if spec.read_back is None:
        return None
    return next(
        (e.point for e in spec.read_back.expect if e.expr is not None and e.expr.strip() == SEQUENCE), None
    )


SEQUENCE_MODULO = 0x10000  # a mailbox's sequence register is 16 bits; 0 is never sent


def next_sequence(last_sent: int, spec: ActionSpec, fresh: Mapping[str, tuple[PointValue, int]]) -> int:
    """The mailbox number to send: one more than both ``last_sent`` and the last the device reports
    processed (the point the read-back expects to equal ``sequence``, when it was read); 0 is skipped."""
    last = last_sent
    point = sequence_point(spec)
    if point is not None and point in fresh:
        seen = fresh[point][0].value
        if isinstance(seen, int) and not isinstance(seen, bool):
            last = max(last, seen)
    return (last + 1) % SEQUENCE_MODULO or 1


def coded(spec: ActionSpec, name: str, value: Value) -> Value:
    """An arg as written to the device: an enum's code, a bool as itself."""
    arg = spec.arg(name)
    if arg is not None and arg.type is ArgType.ENUM and arg.values is not None and isinstance(value, str):
        return arg.values[value]
    return value


def expression_names(
    spec: ActionSpec, actions: DeviceActions, args: Mapping[str, Value], sequence: int
) -> dict[str, int]:
    """The names an expression may use: integer params, int/bool/enum args (a bool 0/1, an enum its
    code) and ``sequence``."""
    names = {k: v for k, v in actions.params.items() if isinstance(v, int)}
    for k, v in args.items():
        code = coded(spec, k, v)
        if isinstance(code, bool | int):
            names[k] = int(code)
    names[SEQUENCE] = sequence
    return names


def _wanted(e: Expect, args: Mapping[str, Value], names: Mapping[str, int]) -> Value:
    if e.arg is not None:
        return args.get(e.arg)
    if e.expr is not None:
        return expr.evaluate(e.expr, names)
    return e.value


def _matches(value: Value, wanted: Value, tolerance: float) -> bool:
    if isinstance(value, bool) or isinstance(wanted, bool):
        return value is wanted
    if isinstance(value, int | float) and isinstance(wanted, int | float):
        return abs(value - wanted) <= tolerance
    return value == wanted
