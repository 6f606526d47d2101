"""The actions of one device: its profile's declarations (:mod:`drivers.profiles.actions`) with the
device's params in place — register addresses evaluated, method paths filled, per-device bounds (a
luminaire's ``min_level``) taken from its params or the profile's ``param_defaults``. Built when the
config is loaded, so a device whose params do not fit its actions refuses to start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from drivers.profiles import expr, template
from drivers.profiles.actions import ActionSpec, ArgRange, NightFloor, PointState


@dataclass(frozen=True, slots=True)
class ResolvedWrite:
    address: int  # first holding register; the values go in one request
    values: tuple[int | str, ...]  # expressions over the command's args, the params and ``sequence``


@dataclass(frozen=True, slots=True)
class DeviceActions:
    params: Mapping[str, int | str]  # the device's, over the profile's param_defaults
    actions: Mapping[str, ActionSpec]
    interlocks: Mapping[str, PointState | ArgRange | NightFloor]
    writes: Mapping[str, tuple[ResolvedWrite, ...]]  # Modbus actions
    methods: Mapping[str, str]  # OPC-UA actions: the method's browse path under the device's root

    def number(self, bound: float | str) -> float:
        """A bound as a number: itself, or the value of the param it names."""
        if isinstance(bound, str):
            value = self.params[bound]  # checked to exist when the profile was loaded
            if isinstance(value, str):
                raise ValueError(f"param {bound!r} is {value!r}, not a number")
            return float(value)
        return bound


def resolve_actions(
    actions: tuple[ActionSpec, ...],
    interlocks: tuple[PointState | ArgRange | NightFloor, ...],
    param_defaults: Mapping[str, int | str],
    params: Mapping[str, int | str],
) -> DeviceActions:
    """The actions with ``params`` in place; raises ValueError naming the action or interlock and field."""
    merged: dict[str, int | str] = {**param_defaults, **params}
    ints = {k: v for k, v in merged.items() if isinstance(v, int)}
    writes: dict[str, tuple[ResolvedWrite, ...]] = {}
    methods: dict[str, str] = {}
    for a in actions:
        if a.write:
            writes[a.name] = _writes(a, ints)
        if a.call is not None:
            try:
                methods[a.name] = template.fill(a.call.method, merged)
            except ValueError as exc:
                raise ValueError(f"actions ({a.name}).call.method: {exc}") from None
    by_name = {a.name: a for a in actions}
    device = DeviceActions(merged, by_name, {i.name: i for i in interlocks}, writes, methods)
    for i in interlocks:
        bounds: list[float | str | None] = []
        if isinstance(i, ArgRange):
            bounds = [i.min, i.max]
        elif isinstance(i, NightFloor):
            bounds = [i.floor, i.level]
        for b in bounds:
            if b is not None:
                try:
                    device.number(b)
                except ValueError as exc:
                    raise ValueError(f"interlocks ({i.name}): {exc}") from None
    return device


def _writes(a: ActionSpec, params: Mapping[str, int]) -> tuple[ResolvedWrite, ...]:
    resolved = []
    for k, w in enumerate(a.write):
        try:
            address = expr.evaluate(w.reg, params)
        except ValueError as exc:
            raise ValueError(f"actions ({a.name}).write[{k}].register: {exc}") from None
        if not 0 <= address <= 0x10000 - len(w.values):
            raise ValueError(f"actions ({a.name}).write[{k}].register: {address} is outside 0..65535")
        resolved.append(ResolvedWrite(address, w.values))
    return tuple(resolved)
