"""Where each :class:`~drivers.dali.config.Quantity` comes from: a query to the gear (a python-dali
``dali.gear`` command) or a value in a D4i memory bank (a python-dali ``dali.memory`` value, which
carries its bank, its locations, its MASK/TMASK patterns and its scaling). python-dali is the memory
map; this table only picks from it.

Banks (python-dali ``dali/memory/energy.py``, DiiA Part 252; ``diagnostics.py``, Part 253): 202 active
energy and power, each a scale byte then the value MSB first; 205 control-gear diagnostics; 206
light-source diagnostics. All three have a latch at location 0x02.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dali.gear import general, led
from dali.memory import diagnostics, energy

from drivers.dali.config import Quantity


@dataclass(frozen=True, slots=True)
class QuerySource:
    """A query answered with one byte."""

    command: Any  # a python-dali command class, built with the gear's address
    device_type: int = 0  # not 0: ENABLE DEVICE TYPE goes first (DT6 = LED modules, IEC 62386-207)
    arc_level: bool = False  # an arc power level: 255 is MASK, the rest goes through the dimming curve


@dataclass(frozen=True, slots=True)
class MemorySource:
    """A value in a memory bank: a python-dali ``MemoryValue`` subclass."""

    value: Any

    @property
    def bank(self) -> int:
        return int(self.value.bank.address)

    @property
    def locations(self) -> tuple[int, ...]:
        return tuple(int(loc.address) for loc in self.value.locations)

    @property
    def latchable(self) -> bool:
        return bool(self.value.bank.has_latch)


Source = QuerySource | MemorySource

SOURCES: dict[Quantity, Source] = {
    Quantity.LEVEL: QuerySource(general.QueryActualLevel, arc_level=True),
    Quantity.STATUS: QuerySource(general.QueryStatus),
    Quantity.LED_FAILURE: QuerySource(led.QueryFailureStatus, device_type=6),
    Quantity.ACTIVE_ENERGY: MemorySource(energy.ActiveEnergy),
    Quantity.ACTIVE_POWER: MemorySource(energy.ActivePower),
    Quantity.OPERATING_TIME: MemorySource(diagnostics.ControlGearOperatingTime),
    Quantity.START_COUNTER: MemorySource(diagnostics.ControlGearStartCounter),
    Quantity.SUPPLY_VOLTAGE: MemorySource(diagnostics.ControlGearExternalSupplyVoltage),
    Quantity.SUPPLY_FREQUENCY: MemorySource(diagnostics.ControlGearExternalSupplyVoltageFrequency),
    Quantity.POWER_FACTOR: MemorySource(diagnostics.ControlGearPowerFactor),
    Quantity.GEAR_FAILURE: MemorySource(diagnostics.ControlGearOverallFailureCondition),
    Quantity.GEAR_TEMPERATURE: MemorySource(diagnostics.ControlGearTemperature),
    Quantity.OUTPUT_CURRENT: MemorySource(diagnostics.ControlGearOutputCurrentPercent),
    Quantity.LIGHT_SOURCE_START_COUNTER: MemorySource(diagnostics.LightSourceStartCounter),
    Quantity.LIGHT_SOURCE_ON_TIME: MemorySource(diagnostics.LightSourceOnTime),
    Quantity.LIGHT_SOURCE_VOLTAGE: MemorySource(diagnostics.LightSourceVoltage),
    Quantity.LIGHT_SOURCE_CURRENT: MemorySource(diagnostics.LightSourceCurrent),
    Quantity.LIGHT_SOURCE_FAILURE: MemorySource(diagnostics.LightSourceOverallFailureCondition),
    Quantity.LIGHT_SOURCE_SHORT_CIRCUIT: MemorySource(diagnostics.LightSourceShortCircuit),
    Quantity.LIGHT_SOURCE_OPEN_CIRCUIT: MemorySource(diagnostics.LightSourceOpenCircuit),
    Quantity.LIGHT_SOURCE_THERMAL_DERATING: MemorySource(diagnostics.LightSourceThermalDerating),
    Quantity.LIGHT_SOURCE_THERMAL_SHUTDOWN: MemorySource(diagnostics.LightSourceThermalShutdown),
    Quantity.LIGHT_SOURCE_TEMPERATURE: MemorySource(diagnostics.LightSourceTemperature),
}
