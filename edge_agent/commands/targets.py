"""What the executor is given: the devices that take commands (each with its resolved actions and the
driver of its bus, seen through the two small protocols the executor needs of a driver), the site's
location for the astronomical clock, and the book that keeps its state across restarts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from drivers.base import PointValue
from drivers.profiles.device_actions import DeviceActions
from drivers.scheduler import Priority
from edge_agent.commands.maintenance import Maintenance
from wire.points import Value


@runtime_checkable
class CommandBus(Protocol):
    """What the executor needs of a driver: a fresh read at a given priority, and a method call."""

    async def read(self, device: str, *, priority: Priority = Priority.POLL) -> Sequence[PointValue]: ...

    async def call(self, device: str, action: str, args: Mapping[str, Value]) -> Value: ...


@runtime_checkable
class RegisterBus(Protocol):
    """A driver that writes raw holding registers (Modbus)."""

    async def write_registers(self, device: str, address: int, values: Sequence[int]) -> None: ...


@dataclass(frozen=True, slots=True)
class Target:
    """One device that takes commands: its name, its resolved actions and the driver of its bus."""

    name: str
    actions: DeviceActions
    bus: CommandBus


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float


class Book(Protocol):
    """What the executor keeps across restarts (:class:`edge_agent.commands.ledger.Ledger`): each
    device's maintenance mode, and the last mailbox sequence number sent to it. Each call is durable
    when it returns."""

    async def set_maintenance(self, device: str, state: Maintenance | None) -> None: ...

    async def set_sequence(self, device: str, sequence: int) -> None: ...
