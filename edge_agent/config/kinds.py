"""The bus registry: for each ``kind:`` of bus, its config model, how its device specs become devices,
and how its driver is built. A new protocol is a folder under ``drivers/`` plus one entry here (and its
model in :data:`edge_agent.config.model.AnyBus`, the tagged union the YAML is checked against; a test
holds the two together).

:data:`BUS_KINDS` is a constant; the loader and the runtime take the registry as an argument, so a test
can pass another. A driver module is imported only when its driver is built: the agent never loads
asyncua or pymodbus for a config without such a bus.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from drivers.dali.config import DaliDevice
from drivers.modbus.config import ModbusDevice
from drivers.opcua.config import OpcUaDevice
from edge_agent.config import devices
from edge_agent.config.devices import Resolving
from edge_agent.config.model import (
    AnyBus,
    DaliSerialBus,
    ModbusRtuBus,
    ModbusTcpBus,
    OpcUaBus,
)
from edge_agent.config.resolved import AnyDevice, ResolvedBus

if TYPE_CHECKING:
    from drivers.base import Driver
    from drivers.scheduler import BusScheduler

B = TypeVar("B", bound=AnyBus)
S = TypeVar("S")
D = TypeVar("D", bound=AnyDevice)


def _itself(bus: B, ctx: Resolving, where: str) -> B:
    return bus


def _by_name(device: AnyDevice) -> Hashable:
    return ("device", device.name)


@dataclass(frozen=True, slots=True)
class BusKind(Generic[B, S, D]):
    """One kind of bus. ``devices(bus, spec, ctx, where)`` resolves one device spec of the bus (raising
    ConfigError); ``link`` resolves the bus's own settings (files relative to the config);
    ``driver(bus, scheduler)`` builds the driver, importing its library only then; ``answers_as(device)``
    is what answers for the device on the line (devices behind one Modbus unit back off together)."""

    model: type[B]
    devices: Callable[[B, S, Resolving, str], Sequence[D]]
    driver: Callable[[ResolvedBus[B, D], BusScheduler], Driver]
    link: Callable[[B, Resolving, str], B] = _itself
    answers_as: Callable[[D], Hashable] = _by_name


def _modbus_tcp_driver(bus: ResolvedBus[ModbusTcpBus, ModbusDevice], scheduler: BusScheduler) -> Driver:
    from drivers.modbus.tcp import ModbusTcpDriver

    return ModbusTcpDriver(bus.name, bus.link, bus.devices, scheduler=scheduler)


def _modbus_rtu_driver(bus: ResolvedBus[ModbusRtuBus, ModbusDevice], scheduler: BusScheduler) -> Driver:
    from drivers.modbus.rtu import ModbusRtuDriver

    return ModbusRtuDriver(bus.name, bus.link, bus.devices, scheduler=scheduler)


def _dali_driver(bus: ResolvedBus[DaliSerialBus, DaliDevice], scheduler: BusScheduler) -> Driver:
    from drivers.dali.client import DaliSerialDriver

    return DaliSerialDriver(bus.name, bus.link, bus.devices, scheduler=scheduler)


def _opcua_driver(bus: ResolvedBus[OpcUaBus, OpcUaDevice], scheduler: BusScheduler) -> Driver:
    from drivers.opcua.client import OpcUaDriver  # asyncua (~25 MB) only when a config has a server

    return OpcUaDriver(bus.name, bus.link, bus.devices, scheduler=scheduler)


def _unit(device: ModbusDevice) -> Hashable:
    return ("unit", device.unit)


BusKinds = Mapping[str, BusKind[Any, Any, Any]]

BUS_KINDS: BusKinds = MappingProxyType(
    {
        "modbus_tcp": BusKind(ModbusTcpBus, devices.modbus_devices, _modbus_tcp_driver, answers_as=_unit),
        "modbus_rtu": BusKind(ModbusRtuBus, devices.modbus_devices, _modbus_rtu_driver, answers_as=_unit),
        "dali_serial": BusKind(DaliSerialBus, devices.dali_devices, _dali_driver),
        "opcua": BusKind(OpcUaBus, devices.opcua_devices, _opcua_driver, link=devices.opcua_link),
    }
)
