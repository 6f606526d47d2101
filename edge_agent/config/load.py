"""Load the agent's YAML config into checked, resolved objects — or refuse with errors that name the
file, the path inside it and the reason (``agent.yaml: buses[0].devices[3].points[2].register: ...``).

Resolution expands ``repeat:`` devices, reads the profiles they name and evaluates register
expressions, so the runtime receives plain, final dataclasses. Nothing is fixed up silently.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from drivers.modbus.config import ModbusDevice, ModbusTcpLink, Order, PointError, resolve_points
from drivers.profiles.model import ModbusProfile
from edge_agent.config.model import AgentConfig, ModbusDeviceSpec, ModbusTcpBus

BUS_KINDS = {"modbus_tcp"}


class ConfigError(ValueError):
    """Every problem found in one file, one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class ResolvedBus:
    name: str
    link: ModbusTcpLink
    devices: tuple[ModbusDevice, ...]


@dataclass(frozen=True, slots=True)
class ResolvedConfig:
    source: Path
    config: AgentConfig
    buffer_path: Path
    status_socket: Path
    buses: tuple[ResolvedBus, ...]

    @property
    def devices(self) -> Iterable[ModbusDevice]:
        for bus in self.buses:
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
    names: dict[str, str] = {}
    for bi, bus in enumerate(cfg.buses):
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
    )


def _resolve_device(
    spec: ModbusDeviceSpec, bus: ModbusTcpBus, profiles: _ProfileCache, where: str
) -> Iterable[ModbusDevice]:
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
        yield ModbusDevice(name=name, unit=spec.unit, poll_interval_s=spec.poll_interval_s, points=resolved)


class _ProfileCache:
    def __init__(self, dirs: Sequence[Path]) -> None:
        self.dirs = dirs
        self._cache: dict[str, ModbusProfile] = {}

    def get(self, name: str, where: str) -> ModbusProfile:
        if name in self._cache:
            return self._cache[name]
        for d in self.dirs:
            path = d / f"{name}.yaml"
            if path.exists():
                data = read_yaml(path)
                try:
                    profile = ModbusProfile.model_validate(data)
                except ValidationError as exc:
                    raise ConfigError(validation_problems(path, exc)) from None
                self._cache[name] = profile
                return profile
        searched = ", ".join(str(d) for d in self.dirs)
        raise ConfigError([f"{where}: no profile {name!r} ({name}.yaml) in {searched}"])
