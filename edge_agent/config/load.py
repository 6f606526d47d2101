"""Load the agent's YAML config into checked, resolved objects — or refuse with errors that name the
file, the path inside it and the reason (``agent.yaml: buses[0].devices[3].points[2].register: ...``).

Resolution expands ``repeat:`` devices, reads the profiles they name and evaluates register
expressions, each bus through its kind's entry in the registry (:mod:`edge_agent.config.kinds`), so the
runtime receives plain, final dataclasses. Nothing is fixed up silently. A device name is unique across
the whole config: that is checked here, once, for every kind.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from edge_agent.config.commands import resolve_commands
from edge_agent.config.devices import Resolving
from edge_agent.config.kinds import BUS_KINDS, BusKinds
from edge_agent.config.model import AgentConfig
from edge_agent.config.problems import ConfigError, read_yaml, validation_problems
from edge_agent.config.profiles import Profiles
from edge_agent.config.resolved import AnyDevice, Bus, ResolvedBus, ResolvedConfig

__all__ = ["ConfigError", "ResolvedBus", "ResolvedConfig", "load_config", "read_yaml"]


def load_config(path: str | Path, kinds: BusKinds = BUS_KINDS) -> ResolvedConfig:
    path = Path(path)
    data = read_yaml(path)
    try:
        cfg = AgentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(path, exc, tags=kinds.keys())) from None
    base = path.resolve().parent
    ctx = Resolving(Profiles([base / p for p in cfg.profile_paths]), base)
    problems: list[str] = []
    names: dict[str, str] = {}  # device name -> where it was first defined
    buses: list[Bus] = []
    for bi, bus in enumerate(cfg.buses):
        kind = kinds.get(bus.kind)
        if kind is None:
            problems.append(f"{path}: buses[{bi}].kind: no driver for {bus.kind!r} in this agent")
            continue
        try:
            link = kind.link(bus, ctx, f"buses[{bi}]")
        except ConfigError as exc:
            problems.extend(f"{path}: {p}" for p in exc.problems)
            link = bus
        devices: list[AnyDevice] = []
        for di, spec in enumerate(bus.devices):
            where = f"buses[{bi}].devices[{di}]"
            try:
                resolved = kind.devices(link, spec, ctx, where)
            except ConfigError as exc:
                problems.extend(f"{path}: {p}" for p in exc.problems)
                continue
            for dev in resolved:
                if dev.name in names:
                    problems.append(f"{path}: {where}.name: device {dev.name!r} is also {names[dev.name]}")
                names.setdefault(dev.name, where)
                devices.append(dev)
        buses.append(ResolvedBus(bus.name, link, tuple(devices)))
    commands = None
    if cfg.commands is not None:  # a gateway that takes no commands calls no method
        problems.extend(f"{path}: {p}" for p in _missing_secrets(buses, cfg.secrets))
        try:
            commands = resolve_commands(cfg.commands, base)
        except ValueError as exc:
            problems.append(f"{path}: {exc}")
    if problems:
        raise ConfigError(problems)
    return ResolvedConfig(
        source=path,
        config=cfg,
        buffer_path=(base / cfg.buffer.path).resolve(),
        status_socket=(base / cfg.status_socket).resolve(),
        buses=tuple(buses),
        outbox_path=None if cfg.outbox.path is None else (base / cfg.outbox.path).resolve(),
        commands=commands,
        lighting_path=None if cfg.lighting is None else (base / cfg.lighting.store).resolve(),
    )


def _missing_secrets(buses: list[Bus], secrets: dict[str, str]) -> list[str]:
    """Every method input taken from a secret the config does not hold, named by device and action."""
    out = []
    for bi, bus in enumerate(buses):
        for dev in bus.devices:
            for spec in dev.actions.actions.values() if dev.actions is not None else ():
                for name, arg in spec.call.args.items() if spec.call is not None else ():
                    if arg.secret is not None and arg.secret not in secrets:
                        out.append(
                            f"secrets: {arg.secret!r} is not set (buses[{bi}] device {dev.name!r}, action "
                            f"{spec.name!r}, input {name})"
                        )
    return out
