"""Device profiles, looked up by name in the config's ``profile_paths`` and read once each."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from drivers.profiles.model import ModbusProfile, OpcUaProfile, Profile, parse_profile
from edge_agent.config.problems import ConfigError, read_yaml, validation_problems


class Profiles:
    """The profiles of one config load: ``get_modbus``/``get_opcua`` refuse a profile of the other kind."""

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
