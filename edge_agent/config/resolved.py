"""The config as the runtime receives it: every bus with its devices resolved (repeats expanded,
profiles read, register expressions evaluated), plain frozen dataclasses. One ``buses`` tuple holds the
buses of every kind; the registry (:mod:`edge_agent.config.kinds`) knows what each kind needs."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from drivers.dali.config import DaliDevice
from drivers.modbus.config import ModbusDevice
from drivers.opcua.config import OpcUaDevice
from edge_agent.config.commands import ResolvedCommands
from edge_agent.config.model import AgentConfig, AnyBus
from edge_agent.poll.report import ReportSpec

AnyDevice = ModbusDevice | DaliDevice | OpcUaDevice
L_co = TypeVar("L_co", bound=AnyBus, covariant=True)
D_co = TypeVar("D_co", bound=AnyDevice, covariant=True)


@dataclass(frozen=True, slots=True)
class ResolvedBus(Generic[L_co, D_co]):
    name: str
    link: L_co  # the bus as configured: its link settings, back-off and device specs
    devices: tuple[D_co, ...]


Bus = ResolvedBus[AnyBus, AnyDevice]  # a bus of any kind


@dataclass(frozen=True, slots=True)
class ResolvedConfig:
    source: Path
    config: AgentConfig
    buffer_path: Path
    status_socket: Path
    buses: tuple[Bus, ...]  # in the config's order, every kind
    outbox_path: Path | None = None  # None: outbox.db beside the buffer

    @property
    def outbox_file(self) -> Path:
        """The outbox's SQLite file: ``outbox.path``, or ``outbox.db`` beside the buffer's file."""
        return self.outbox_path or self.buffer_path.with_name("outbox.db")

    commands: ResolvedCommands | None = None  # None: the gateway takes no commands
    lighting_path: Path | None = None  # the installed program set's file; None: no lighting: section

    @property
    def devices(self) -> tuple[AnyDevice, ...]:
        """Every bus's devices, in the config's order."""
        return tuple(d for bus in self.buses for d in bus.devices)

    def report_specs(self) -> dict[tuple[str, str], ReportSpec]:
        """(device, point) -> its report-by-exception spec, from the first matching ``report`` rule."""
        specs: dict[tuple[str, str], ReportSpec] = {}
        rules = self.config.report
        for dev in self.devices:
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
