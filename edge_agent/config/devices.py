"""How a device spec of each kind becomes its devices: profiles read, ``repeat`` expanded, register
expressions and templates evaluated. A problem is a :class:`ConfigError` naming the place in the file
(``buses[0].devices[3] (lum-07).points[2].register``), never a fix.

These are the ``devices`` (and ``link``) entries of the bus registry, :mod:`edge_agent.config.kinds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from drivers.dali.config import DaliDevice, DaliDeviceSpec, expand_with_values
from drivers.device import DeviceSpec
from drivers.errors import PointError
from drivers.modbus.config import ModbusDevice, Order, resolve_points
from drivers.modbus.plan import plan_reads
from drivers.opcua import resolve as opcua
from drivers.opcua.config import OpcUaDevice, OpcUaSecurity, ReadMode
from drivers.profiles.actions import PointState
from drivers.profiles.device_actions import DeviceActions, resolve_actions
from drivers.profiles.model import DaliProfile, ModbusProfile, OpcUaProfile
from edge_agent.config.model import (
    DaliSerialBus,
    ModbusDeviceSpec,
    ModbusRtuBus,
    ModbusTcpBus,
    OpcUaBus,
    OpcUaDeviceSpec,
)
from edge_agent.config.problems import ConfigError
from edge_agent.config.profiles import Profiles

V = TypeVar("V", int, int | str)


@dataclass(frozen=True, slots=True)
class Resolving:
    """What resolving a config may read: its profiles, and files relative to its folder."""

    profiles: Profiles
    base: Path  # the config file's folder


def modbus_devices(
    bus: ModbusTcpBus | ModbusRtuBus, spec: ModbusDeviceSpec, ctx: Resolving, where: str
) -> list[ModbusDevice]:
    if isinstance(bus, ModbusRtuBus) and spec.unit == 0:
        raise ConfigError([f"{where}.unit: 0 is the broadcast address of a serial line: it never answers"])
    profile = ctx.profiles.get_modbus(spec.profile, f"{where}.profile") if spec.profile is not None else None
    if profile is not None:
        points, word, byte = profile.points + spec.points, profile.word_order, profile.byte_order
        required = set(profile.params)
    else:
        points, word, byte, required = spec.points, Order.BIG, Order.BIG, set()
    word = spec.word_order or word
    byte = spec.byte_order or byte
    devices = []
    for name, params in _repetitions(spec, spec.params, where):
        missing = required - params.keys()
        if missing:
            raise ConfigError([f"{where}.params: profile {spec.profile!r} needs {sorted(missing)}"])
        try:
            resolved = resolve_points(points, params, word, byte)
        except PointError as exc:
            raise _point_error(
                exc, f"{where} ({name})", len(points) - len(spec.points), spec.profile
            ) from None
        try:  # what the driver plans when it is built: `run` must not refuse what check-config passed
            plan_reads(resolved, bus.max_registers, bus.max_gap)
        except ValueError as exc:
            raise ConfigError([f"{where} ({name}).points: {exc} (the bus's max_registers)"]) from None
        actions = _actions(profile, params, f"{where} ({name})") if profile is not None else None
        devices.append(ModbusDevice(name, spec.unit, spec.poll_interval_s, resolved, spec.timeout_s, actions))
    return devices


def dali_devices(bus: DaliSerialBus, spec: DaliDeviceSpec, ctx: Resolving, where: str) -> list[DaliDevice]:
    """A DALI gear (or a range): short addresses and bus time were checked by the bus model; a profile
    gives its actions, whose read-backs and interlocks need points the device reads."""
    profile = ctx.profiles.get_dali(spec.profile, f"{where}.profile") if spec.profile is not None else None
    if profile is None and spec.params:
        raise ConfigError([f"{where}.params: params are for a profile's actions, and there is no profile"])
    try:
        expanded = expand_with_values(spec, where)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    if profile is None:
        return [device for device, _ in expanded]
    needed = _points_needed(profile)
    if missing := sorted(needed - {q.value for q in spec.points}):
        raise ConfigError(
            [f"{where}.points: profile {profile.name!r} reads back or interlocks on {missing}: read them too"]
        )
    return [replace(d, actions=_actions(profile, values, f"{where} ({d.name})")) for d, values in expanded]


def _points_needed(profile: DaliProfile) -> set[str]:
    """The points the profile's read-backs and point interlocks read."""
    needed = {e.point for a in profile.actions if a.read_back is not None for e in a.read_back.expect}
    for lock in profile.interlocks:
        if isinstance(lock, PointState):
            needed |= set(lock.refuse_if)
    return needed


def opcua_devices(bus: OpcUaBus, spec: OpcUaDeviceSpec, ctx: Resolving, where: str) -> list[OpcUaDevice]:
    profile = ctx.profiles.get_opcua(spec.profile, f"{where}.profile") if spec.profile is not None else None
    points = (profile.points if profile else ()) + spec.points
    devices = []
    for name, params in _repetitions(spec, spec.params, where):
        missing = set(profile.params if profile else ()) - params.keys()
        if missing:
            raise ConfigError([f"{where}.params: profile {spec.profile!r} needs {sorted(missing)}"])
        try:
            devices.append(
                opcua.resolve_device(
                    name,
                    poll_interval_s=spec.poll_interval_s,
                    points=points,
                    params=params,
                    root=spec.root if spec.root is not None else (profile.root if profile else ""),
                    namespace=spec.namespace or (profile.namespace if profile else None),
                    read=spec.read or (profile.read if profile else ReadMode.POLL),
                    sampling_interval_ms=spec.sampling_interval_ms
                    or (profile.sampling_interval_ms if profile else 1000.0),
                    timeout_s=spec.timeout_s,
                )
            )
        except opcua.RootError as exc:
            raise ConfigError([f"{where}.root: {exc}"]) from None
        except PointError as exc:
            raise _point_error(
                exc, f"{where} ({name})", len(points) - len(spec.points), spec.profile
            ) from None
        if profile is not None:
            devices[-1] = replace(devices[-1], actions=_actions(profile, params, f"{where} ({name})"))
    return devices


def _actions(
    profile: ModbusProfile | OpcUaProfile | DaliProfile, params: Mapping[str, int | str], where: str
) -> DeviceActions | None:
    """The device's actions from its profile (None if it declares none), refused naming the place."""
    if not profile.actions:
        return None
    try:
        return resolve_actions(profile.actions, profile.interlocks, profile.param_defaults, params)
    except ValueError as exc:
        raise ConfigError([f"{where} (profile {profile.name!r}) {exc}"]) from None


def opcua_link(bus: OpcUaBus, ctx: Resolving, where: str) -> OpcUaBus:
    """The server's certificate paths made absolute (relative to the config file) and checked to exist."""
    if not isinstance(bus.security, OpcUaSecurity):
        return bus
    files, problems = {}, []
    for key in ("certificate", "private_key", "server_certificate"):
        file = (ctx.base / getattr(bus.security, key)).resolve()
        if not file.is_file():
            problems.append(f"{where}.security.{key}: no file {file}")
        files[key] = str(file)
    if problems:
        raise ConfigError(problems)
    return bus.model_copy(update={"security": bus.security.model_copy(update=files)})


def _repetitions(
    spec: DeviceSpec, params: Mapping[str, V], where: str
) -> list[tuple[str, dict[str, V | int]]]:
    try:
        return list(spec.expand(params))
    except ValueError as exc:
        raise ConfigError([f"{where}.name: {exc}"]) from None


def _point_error(exc: PointError, where: str, inherited: int, profile: str | None) -> ConfigError:
    """Place a point that cannot be resolved: the first ``inherited`` points are the profile's."""
    origin = f" (from profile {profile!r})" if exc.index < inherited else ""
    index = exc.index if origin else exc.index - inherited
    return ConfigError([f"{where}.points[{index}].{exc.field}{origin}: {exc.reason}"])
