"""Device profiles, looked up by name in the config's ``profile_paths`` and read once each."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from drivers.profiles.model import DaliProfile, ModbusProfile, OpcUaProfile, Profile, parse_profile
from edge_agent.config.problems import ConfigError, format_loc, read_yaml

_INTERLOCK_KINDS = ("point_state", "arg_range", "night_floor")  # tags pydantic puts in the location


class Profiles:
    """The profiles of one config load: ``get_modbus``/``get_opcua``/``get_dali`` refuse a profile of
    another kind."""

    def __init__(self, dirs: Sequence[Path]) -> None:
        self.dirs = dirs
        self._cache: dict[str, Profile] = {}

    def get_modbus(self, name: str, where: str) -> ModbusProfile:
        profile = self._load(name, where)
        if not isinstance(profile, ModbusProfile):
            raise ConfigError([f"{where}: profile {name!r} is for {profile.protocol}, not a Modbus device"])
        return profile

    def get_opcua(self, name: str, where: str) -> OpcUaProfile:
        profile = self._load(name, where)
        if not isinstance(profile, OpcUaProfile):
            raise ConfigError([f"{where}: profile {name!r} is for {profile.protocol}, not an OPC-UA device"])
        return profile

    def get_dali(self, name: str, where: str) -> DaliProfile:
        profile = self._load(name, where)
        if not isinstance(profile, DaliProfile):
            raise ConfigError([f"{where}: profile {name!r} is for {profile.protocol}, not a DALI device"])
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
                    raise ConfigError(_problems(path, exc, data)) from None
                self._cache[name] = profile
                return profile
        searched = ", ".join(str(d) for d in self.dirs)
        raise ConfigError([f"{where}: no profile {name!r} ({name}.yaml) in {searched}"])


def _problems(path: Path, exc: ValidationError, data: dict[str, Any]) -> list[str]:
    """Like :func:`~edge_agent.config.problems.validation_problems`, with an action's or interlock's name
    after its index: ``actions[1] (raise).args[0].min: ...``."""
    problems = []
    for err in exc.errors():
        loc = err["loc"]
        where = format_loc(loc, _INTERLOCK_KINDS)
        if len(loc) >= 2 and loc[0] in ("actions", "interlocks") and isinstance(loc[1], int):
            entries = data.get(str(loc[0]))
            entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str):
                head = f"{loc[0]}[{loc[1]}]"
                where = f"{head} ({name}){where.removeprefix(head)}"
        problems.append(f"{path}: {where}: {err['msg'].removeprefix('Value error, ')}")
    return problems
