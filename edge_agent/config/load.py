"""Load the agent's YAML config into checked, resolved objects — or refuse with errors that name the
file, the path inside it and the reason (``agent.yaml: buses[0].devices[3].points[2].register: ...``).

Resolution expands ``repeat:`` devices, reads the profiles they name and evaluates register
expressions, so the runtime receives plain, final dataclasses. Nothing is fixed up silently.
"""

from __future__ import annotations

import fnmatch
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from drivers.dali.config import DaliDevice, expand
from drivers.modbus.config import ModbusDevice, Order, PointError, resolve_points
from drivers.opcua import config as opcua
from drivers.profiles.model import ModbusProfile, OpcUaProfile, Profile, parse_profile
from edge_agent.config.model import (
    AgentConfig,
    BusConfig,
    DaliSerialBus,
    ModbusDeviceSpec,
    ModbusRtuBus,
    OpcUaBus,
    OpcUaDeviceSpec,
)
from edge_agent.poll.report import ReportSpec

BUS_KINDS = {"modbus_tcp", "modbus_rtu", "dali_serial", "opcua"}


class ConfigError(ValueError):
    """Every problem found in one file, one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class ResolvedBus:
    name: str
    link: BusConfig  # the bus as configured: its link settings, back-off and device specs
    devices: tuple[ModbusDevice, ...]


@dataclass(frozen=True, slots=True)
class ResolvedDaliBus:
    name: str
    link: DaliSerialBus
    devices: tuple[DaliDevice, ...]


@dataclass(frozen=True, slots=True)
class ResolvedOpcUaBus:
    name: str
    link: OpcUaBus
    devices: tuple[opcua.OpcUaDevice, ...]


@dataclass(frozen=True, slots=True)
class ResolvedConfig:
    source: Path
    config: AgentConfig
    buffer_path: Path
    status_socket: Path
    buses: tuple[ResolvedBus, ...]
    dali_buses: tuple[ResolvedDaliBus, ...] = ()  # DALI lines: their devices are not Modbus devices
    opcua_buses: tuple[ResolvedOpcUaBus, ...] = ()  # OPC-UA servers: nor are theirs

    @property
    def all_devices(self) -> tuple[ModbusDevice | DaliDevice | opcua.OpcUaDevice, ...]:
        return (*self.devices, *self.dali_devices, *self.opcua_devices)

    def report_specs(self) -> dict[tuple[str, str], ReportSpec]:
        """(device, point) -> its report-by-exception spec, from the first matching ``report`` rule."""
        specs: dict[tuple[str, str], ReportSpec] = {}
        rules = self.config.report
        for dev in self.all_devices:
            for point in [p.name for p in dev.points]:
                for rule in rules:
                    if fnmatch.fnmatchcase(dev.name, rule.devices) and any(
                        fnmatch.fnmatchcase(point, pat) for pat in rule.points
                    ):
                        specs[(dev.name, point)] = ReportSpec(
                            deadband=rule.deadband,
                            deadband_percent=rule.deadband_percent,
                            max_interval_s=rule.max_interval_s,
                        )
                        break
        return specs

    @property
    def devices(self) -> Iterable[ModbusDevice]:
        for bus in self.buses:
            yield from bus.devices

    @property
    def all_buses(self) -> tuple[ResolvedBus | ResolvedDaliBus | ResolvedOpcUaBus, ...]:
        return (*self.buses, *self.dali_buses, *self.opcua_buses)

    @property
    def dali_devices(self) -> Iterable[DaliDevice]:
        for bus in self.dali_buses:
            yield from bus.devices

    @property
    def opcua_devices(self) -> Iterable[opcua.OpcUaDevice]:
        for bus in self.opcua_buses:
            yield from bus.devices


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}: YAML syntax error: {problem}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of settings, got {type(data).__name__}"])
    return data


def format_loc(loc: Sequence[int | str]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in BUS_KINDS and i > 0 and isinstance(loc[i - 1], int):
            continue  # the tag of a discriminated union, not a key in the file
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def validation_problems(path: Path, exc: ValidationError, prefix: str = "") -> list[str]:
    problems = []
    for err in exc.errors():
        where = format_loc(err["loc"])
        if prefix:
            where = f"{prefix}.{where}" if where != "(top level)" else prefix
        msg = err["msg"].removeprefix("Value error, ")
        problems.append(f"{path}: {where}: {msg}")
    return problems


def load_config(path: str | Path) -> ResolvedConfig:
    path = Path(path)
    data = read_yaml(path)
    try:
        cfg = AgentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(path, exc)) from None
    base = path.resolve().parent
    profiles = _ProfileCache([base / p for p in cfg.profile_paths])
    problems: list[str] = []
    buses = []
    dali_buses = []
    opcua_buses = []
    names: dict[str, str] = {}
    for bi, bus in enumerate(cfg.buses):
        if isinstance(bus, DaliSerialBus):
            dali_buses.append(_dali_bus(bus, bi, names, problems, path))
            continue
        if isinstance(bus, OpcUaBus):
            opcua_buses.append(
                _opcua_bus(bus, bi, profiles=profiles, names=names, problems=problems, path=path, base=base)
            )
            continue
        devices = []
        for di, spec in enumerate(bus.devices):
            where = f"buses[{bi}].devices[{di}]"
            try:
                for dev in _resolve_device(spec, bus, profiles, where):
                    if dev.name in names:
                        other = names[dev.name]
                        problems.append(f"{path}: {where}.name: device {dev.name!r} is also {other}")
                    names[dev.name] = where
                    devices.append(dev)
            except ConfigError as exc:
                problems.extend(f"{path}: {p}" for p in exc.problems)
        buses.append(ResolvedBus(bus.name, bus, tuple(devices)))
    if problems:
        raise ConfigError(problems)
    return ResolvedConfig(
        source=path,
        config=cfg,
        buffer_path=(base / cfg.buffer.path).resolve(),
        status_socket=(base / cfg.status_socket).resolve(),
        buses=tuple(buses),
        dali_buses=tuple(dali_buses),
        opcua_buses=tuple(opcua_buses),
    )


def _dali_bus(
    bus: DaliSerialBus, bi: int, names: dict[str, str], problems: list[str], path: Path
) -> ResolvedDaliBus:
    """A DALI line: its devices were checked by the model (short addresses, bus time); names must
    still be unique across the whole config."""
    devices = []
    for di, spec in enumerate(bus.devices):
        where = f"buses[{bi}].devices[{di}]"
        for dev in expand(spec, di):
            if dev.name in names:
                problems.append(f"{path}: {where}.name: device {dev.name!r} is also {names[dev.name]}")
            names[dev.name] = where
            devices.append(dev)
    return ResolvedDaliBus(bus.name, bus, tuple(devices))


def _opcua_bus(
    bus: OpcUaBus,
    bi: int,
    *,
    profiles: _ProfileCache,
    names: dict[str, str],
    problems: list[str],
    path: Path,
    base: Path,
) -> ResolvedOpcUaBus:
    """An OPC-UA server: its devices resolved (profiles, params, node ids, browse paths), its certificate
    paths made absolute (relative to the config file) and checked to exist."""
    if isinstance(bus.security, opcua.OpcUaSecurity):
        files = {}
        for key in ("certificate", "private_key", "server_certificate"):
            file = (base / getattr(bus.security, key)).resolve()
            if not file.is_file():
                problems.append(f"{path}: buses[{bi}].security.{key}: no file {file}")
            files[key] = str(file)
        bus = bus.model_copy(update={"security": bus.security.model_copy(update=files)})
    devices = []
    for di, spec in enumerate(bus.devices):
        where = f"buses[{bi}].devices[{di}]"
        try:
            dev = _resolve_opcua_device(spec, profiles, where)
        except ConfigError as exc:
            problems.extend(f"{path}: {p}" for p in exc.problems)
            continue
        if dev.name in names:
            problems.append(f"{path}: {where}.name: device {dev.name!r} is also {names[dev.name]}")
        names[dev.name] = where
        devices.append(dev)
    return ResolvedOpcUaBus(bus.name, bus, tuple(devices))


def _resolve_opcua_device(spec: OpcUaDeviceSpec, profiles: _ProfileCache, where: str) -> opcua.OpcUaDevice:
    profile = profiles.get_opcua(spec.profile, f"{where}.profile") if spec.profile is not None else None
    points = (profile.points if profile else ()) + spec.points
    missing = set(profile.params if profile else ()) - spec.params.keys()
    if missing:
        raise ConfigError([f"{where}.params: profile {spec.profile!r} needs {sorted(missing)}"])
    try:
        return opcua.resolve_device(
            spec.name,
            poll_interval_s=spec.poll_interval_s,
            points=points,
            params=spec.params,
            root=spec.root if spec.root is not None else (profile.root if profile else ""),
            namespace=spec.namespace or (profile.namespace if profile else None),
            read=spec.read or (profile.read if profile else opcua.ReadMode.POLL),
            sampling_interval_ms=spec.sampling_interval_ms
            or (profile.sampling_interval_ms if profile else 1000.0),
            timeout_s=spec.timeout_s,
        )
    except opcua.RootError as exc:
        raise ConfigError([f"{where}.root: {exc}"]) from None
    except opcua.PointError as exc:
        inherited = len(points) - len(spec.points)
        origin = f" (from profile {spec.profile!r})" if exc.index < inherited else ""
        index = exc.index if origin else exc.index - inherited
        raise ConfigError(
            [f"{where} ({spec.name}).points[{index}].{exc.field}{origin}: {exc.reason}"]
        ) from None


def _resolve_device(
    spec: ModbusDeviceSpec, bus: BusConfig, profiles: _ProfileCache, where: str
) -> Iterable[ModbusDevice]:
    if isinstance(bus, ModbusRtuBus) and spec.unit == 0:
        raise ConfigError([f"{where}.unit: 0 is the broadcast address of a serial line: it never answers"])
    if spec.profile is not None:
        profile = profiles.get(spec.profile, f"{where}.profile")
        points, word, byte = profile.points + spec.points, profile.word_order, profile.byte_order
        required = set(profile.params)
    else:
        points, word, byte, required = spec.points, Order.BIG, Order.BIG, set()
    word = spec.word_order or word
    byte = spec.byte_order or byte
    keys = sorted((spec.repeat or {}).keys())
    ranges = [range(lo, hi + 1) for lo, hi in ((spec.repeat or {})[k] for k in keys)]
    for combo in itertools.product(*ranges) if keys else [()]:
        params = {**spec.params, **dict(zip(keys, combo, strict=True))}
        missing = required - params.keys()
        if missing:
            raise ConfigError([f"{where}.params: profile {spec.profile!r} needs {sorted(missing)}"])
        name = spec.name.format(**params) if keys else spec.name
        try:
            resolved = resolve_points(points, params, word, byte)
        except PointError as exc:
            inherited = len(points) - len(spec.points)
            origin = f" (from profile {spec.profile!r})" if exc.index < inherited else ""
            index = exc.index if origin else exc.index - inherited
            field = f"{where} ({name}).points[{index}].{exc.field}"
            raise ConfigError([f"{field}{origin}: {exc.reason}"]) from None
        yield ModbusDevice(
            name=name,
            unit=spec.unit,
            poll_interval_s=spec.poll_interval_s,
            points=resolved,
            timeout_s=spec.timeout_s,
        )


class _ProfileCache:
    def __init__(self, dirs: Sequence[Path]) -> None:
        self.dirs = dirs
        self._cache: dict[str, Profile] = {}

    def get(self, name: str, where: str) -> ModbusProfile:
        profile = self._load(name, where)
        if not isinstance(profile, ModbusProfile):
            raise ConfigError([f"{where}: profile {name!r} is for {profile.protocol}, not a Modbus device"])
        return profile

    def get_opcua(self, name: str, where: str) -> OpcUaProfile:
        profile = self._load(name, where)
        if not isinstance(profile, OpcUaProfile):
            raise ConfigError([f"{where}: profile {name!r} is for {profile.protocol}, not an OPC-UA device"])
        return profile

    def _load(self, name: str, where: str) -> Profile:
        if name in self._cache:
            return self._cache[name]
        for d in self.dirs:
            path = d / f"{name}.yaml"
            if path.exists():
                data = read_yaml(path)
                try:
                    profile = parse_profile(data)
                except ValidationError as exc:
                    raise ConfigError(validation_problems(path, exc)) from None
                self._cache[name] = profile
                return profile
        searched = ", ".join(str(d) for d in self.dirs)
        raise ConfigError([f"{where}: no profile {name!r} ({name}.yaml) in {searched}"])
