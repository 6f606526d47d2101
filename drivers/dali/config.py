"""What a DALI line, a control gear and its points are: the YAML models (pydantic) and the resolved
dataclasses the planner, codec and client work on. No python-dali import here: the agent validates a
config without loading the protocol.

A line is one serial DALI interface speaking Lunatone's LUBA protocol (38400 8N1). A device is one
control gear by short address (0..63), or a range of them (``short_address: [0, 19]`` with ``{sa}`` in
the name); its points are chosen from :class:`Quantity`: the point is named after the quantity.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# the agent's device-name rule (edge_agent.config.model.DeviceName): drivers do not import the agent
DaliDeviceName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.{}:-]{0,63}$")]
MAX_SHORT_ADDRESS = 63


class Quantity(enum.StrEnum):
    """What a point reads; its name in telemetry. Where each comes from is :mod:`drivers.dali.points`."""

    LEVEL = "level"  # QUERY ACTUAL LEVEL, through the log dimming curve: %
    STATUS = "status"  # QUERY STATUS: the status byte
    LED_FAILURE = "led_failure"  # DT6 QUERY FAILURE STATUS: the failure byte
    ACTIVE_ENERGY = "active_energy"  # bank 202 (DiiA 252): Wh
    ACTIVE_POWER = "active_power"  # bank 202: W
    OPERATING_TIME = "operating_time"  # bank 205 (DiiA 253): s
    START_COUNTER = "start_counter"  # bank 205
    SUPPLY_VOLTAGE = "supply_voltage"  # bank 205: V rms
    SUPPLY_FREQUENCY = "supply_frequency"  # bank 205: Hz
    POWER_FACTOR = "power_factor"  # bank 205
    GEAR_FAILURE = "gear_failure"  # bank 205: overall failure condition
    GEAR_TEMPERATURE = "gear_temperature"  # bank 205: °C
    OUTPUT_CURRENT = "output_current"  # bank 205: % of nominal
    LIGHT_SOURCE_START_COUNTER = "light_source_start_counter"  # bank 206
    LIGHT_SOURCE_ON_TIME = "light_source_on_time"  # bank 206: s
    LIGHT_SOURCE_VOLTAGE = "light_source_voltage"  # bank 206: V
    LIGHT_SOURCE_CURRENT = "light_source_current"  # bank 206: A
    LIGHT_SOURCE_FAILURE = "light_source_failure"  # bank 206: overall failure condition
    LIGHT_SOURCE_SHORT_CIRCUIT = "light_source_short_circuit"  # bank 206
    LIGHT_SOURCE_OPEN_CIRCUIT = "light_source_open_circuit"  # bank 206
    LIGHT_SOURCE_THERMAL_DERATING = "light_source_thermal_derating"  # bank 206
    LIGHT_SOURCE_THERMAL_SHUTDOWN = "light_source_thermal_shutdown"  # bank 206
    LIGHT_SOURCE_TEMPERATURE = "light_source_temperature"  # bank 206: °C


UNITS: dict[Quantity, str] = {
    Quantity.LEVEL: "%",
    Quantity.ACTIVE_ENERGY: "Wh",
    Quantity.ACTIVE_POWER: "W",
    Quantity.OPERATING_TIME: "s",
    Quantity.SUPPLY_VOLTAGE: "V",
    Quantity.SUPPLY_FREQUENCY: "Hz",
    Quantity.GEAR_TEMPERATURE: "°C",
    Quantity.OUTPUT_CURRENT: "%",
    Quantity.LIGHT_SOURCE_ON_TIME: "s",
    Quantity.LIGHT_SOURCE_VOLTAGE: "V",
    Quantity.LIGHT_SOURCE_CURRENT: "A",
    Quantity.LIGHT_SOURCE_TEMPERATURE: "°C",
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DaliSerialLink(_Model):
    """A serial DALI interface speaking Lunatone's LUBA protocol (LUBA RS232, DALI-2 RS232)."""

    kind: Literal["dali_serial"]
    port: str = Field(min_length=1, description="serial device: /dev/ttyUSB0, /dev/serial/by-id/...")
    baudrate: Literal[38400] = Field(default=38400, description="the LUBA protocol runs at 38400 8N1")
    timeout_s: float = Field(
        default=1.0, gt=0, le=60, description="wait for the interface to report a frame sent (busy bus)"
    )
    answer_timeout_s: float = Field(
        default=0.05, gt=0, le=1, description="after the frame went out, wait this long for a gear's answer"
    )
    query_spacing_s: float = Field(
        default=0.05, gt=0, le=1, description="bus time of a query and its answer (devices.md §1.7)"
    )
    command_spacing_s: float = Field(
        default=0.035, gt=0, le=1, description="bus time of a frame without an answer (devices.md §1.7)"
    )
    integrated_supply: bool = Field(
        default=False, description="switch the interface's own DALI bus power supply on (else off)"
    )

    @property
    def frame_gap_s(self) -> float:
        """No gap of ours between requests: the interface paces the DALI bus itself."""
        return 0.0


class DaliDeviceSpec(_Model):
    """One control gear, or a range of them (``short_address: [0, 19]``, ``{sa}`` in the name)."""

    name: DaliDeviceName
    short_address: int | tuple[int, int]
    poll_interval_s: float = Field(default=300.0, gt=0, le=86400)
    points: tuple[Quantity, ...] = Field(min_length=1)
    latch: bool = Field(
        default=True, description="latch banks 202/205/206 while reading multi-byte values (DiiA 252/253)"
    )

    @field_validator("short_address")
    @classmethod
    def _addresses(cls, v: int | tuple[int, int]) -> int | tuple[int, int]:
        first, last = (v, v) if isinstance(v, int) else v
        for a in (first, last):
            if not 0 <= a <= MAX_SHORT_ADDRESS:
                raise ValueError(f"a short address is 0..{MAX_SHORT_ADDRESS}, not {a}")
        if first > last:
            raise ValueError(f"first short address {first} is above last {last}")
        return v

    @field_validator("points")
    @classmethod
    def _unique(cls, v: tuple[Quantity, ...]) -> tuple[Quantity, ...]:
        seen: set[Quantity] = set()
        for q in v:
            if q in seen:
                raise ValueError(f"point {q.value!r} is listed twice")
            seen.add(q)
        return v

    @model_validator(mode="after")
    def _name_for_a_range(self) -> DaliDeviceSpec:
        if isinstance(self.short_address, tuple) and "{sa" not in self.name:
            raise ValueError("a range of short addresses needs {sa} in the device name")
        return self

    @property
    def addresses(self) -> range:
        first, last = (
            (self.short_address, self.short_address)
            if isinstance(self.short_address, int)
            else self.short_address
        )
        return range(first, last + 1)


@dataclass(frozen=True, slots=True)
class DaliPoint:
    name: str
    quantity: Quantity
    unit: str | None


@dataclass(frozen=True, slots=True)
class DaliDevice:
    name: str
    address: int  # short address 0..63
    poll_interval_s: float
    points: tuple[DaliPoint, ...]
    latch: bool = True
    timeout_s: float | None = None  # the line's timeouts apply (the agent's back-off reads this)


def expand(spec: DaliDeviceSpec, index: int) -> list[DaliDevice]:
    """The devices of one spec: one per short address of its range."""
    points = tuple(DaliPoint(q.value, q, UNITS.get(q)) for q in spec.points)
    return [
        DaliDevice(_name(spec, sa, index), sa, spec.poll_interval_s, points, spec.latch)
        for sa in spec.addresses
    ]


def resolve_devices(specs: tuple[DaliDeviceSpec, ...]) -> tuple[DaliDevice, ...]:
    """One device per short address; a short address or a name used twice on the line is refused with
    a ``ValueError`` naming ``devices[i]``."""
    devices: list[DaliDevice] = []
    owner: dict[int, str] = {}
    names: dict[str, str] = {}
    for i, spec in enumerate(specs):
        for dev in expand(spec, i):
            where = f"devices[{i}] ({dev.name})"
            if dev.address in owner:
                raise ValueError(f"{where}.short_address: {dev.address} is also {owner[dev.address]}")
            if dev.name in names:
                raise ValueError(f"{where}.name: {dev.name!r} is also {names[dev.name]}")
            owner[dev.address] = names[dev.name] = where
            devices.append(dev)
    return tuple(devices)


def _name(spec: DaliDeviceSpec, sa: int, index: int) -> str:
    if "{" not in spec.name:
        return spec.name
    try:
        return spec.name.format(sa=sa)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"devices[{index}].name: {spec.name!r} takes only {{sa}}: {exc!r}") from None
