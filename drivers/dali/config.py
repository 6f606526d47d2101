"""What a DALI line, a control gear and its points are: the YAML models (pydantic) and the resolved
dataclasses the planner, codec and client work on. No python-dali import here: the agent validates a
config without loading the protocol.

A line is one serial DALI interface speaking Lunatone's LUBA protocol (38400 8N1). A device is one
control gear by short address (0..63), or a range of them through the one repeat of every device spec
(``repeat: {sa: [0, 19]}``, ``short_address: sa``, ``{sa}`` in the name); its points are chosen from
:class:`Quantity`: the point is named after the quantity.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from drivers.device import DeviceSpec
from drivers.profiles.device_actions import DeviceActions
from drivers.profiles.expr import evaluate

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


class GearCommand(enum.StrEnum):
    """What an action of a DALI profile may ``call`` on one control gear (IEC 62386-102), by its
    ``method`` name; :data:`GEAR_COMMAND_INPUTS` are the inputs each takes."""

    DAPC = "DAPC"  # DIRECT ARC POWER CONTROL: input ``level``, % of light through the dimming curve
    OFF = "OFF"
    RECALL_MAX_LEVEL = "RECALL_MAX_LEVEL"  # the gear's MAX LEVEL
    RECALL_MIN_LEVEL = "RECALL_MIN_LEVEL"  # the gear's MIN LEVEL


GEAR_COMMAND_INPUTS: dict[GearCommand, tuple[str, ...]] = {
    GearCommand.DAPC: ("level",),
    GearCommand.OFF: (),
    GearCommand.RECALL_MAX_LEVEL: (),
    GearCommand.RECALL_MIN_LEVEL: (),
}


class StoredLevel(enum.StrEnum):
    """A level the gear keeps for itself: at power on, and on a DALI system failure (bus down)."""

    POWER_ON = "power_on"
    SYSTEM_FAILURE = "system_failure"


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


class DaliDeviceSpec(DeviceSpec):
    """One control gear, or a range of them: ``repeat: {sa: [0, 19]}`` with ``short_address: sa`` (an
    expression over the repeat's values) and ``{sa}`` in the name."""

    short_address: int | str = Field(description="0..63, or an expression over the repeat's values: sa")
    poll_interval_s: float = Field(default=300.0, gt=0, le=86400)
    points: tuple[Quantity, ...] = Field(min_length=1)
    latch: bool = Field(
        default=True, description="latch banks 202/205/206 while reading multi-byte values (DiiA 252/253)"
    )
    profile: str | None = Field(
        default=None, description="a DALI profile (protocol: dali): the actions a command may run"
    )
    params: dict[str, int] = Field(
        default_factory=dict, description="the profile's optional params: min_level, max_level, ..."
    )

    @field_validator("short_address", mode="before")
    @classmethod
    def _not_a_range(cls, v: Any) -> Any:
        if isinstance(v, list | tuple):  # the form before 0.2: every device spec repeats one way now
            raise ValueError(
                "a range of short addresses is written repeat: {sa: [first, last]} with short_address: sa"
            )
        return v

    @field_validator("short_address")
    @classmethod
    def _address(cls, v: int | str) -> int | str:
        if isinstance(v, int):
            _check_address(v)
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


def _check_address(a: int) -> int:
    if not 0 <= a <= MAX_SHORT_ADDRESS:
        raise ValueError(f"a short address is 0..{MAX_SHORT_ADDRESS}, not {a}")
    return a


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
    actions: DeviceActions | None = None  # from its profile's ``actions:``; None: it takes no command


def expand(spec: DaliDeviceSpec, where: str) -> list[DaliDevice]:
    """The devices of one spec, one per repetition (without actions: the agent's config resolves its
    profile); a ``ValueError`` starts with ``where`` (``devices[3]``), the spec's place."""
    return [device for device, _ in expand_with_values(spec, where)]


def expand_with_values(spec: DaliDeviceSpec, where: str) -> list[tuple[DaliDevice, dict[str, int]]]:
    """:func:`expand`, each device with its params and repeat values (what its profile's actions see)."""
    points = tuple(DaliPoint(q.value, q, UNITS.get(q)) for q in spec.points)
    try:
        repetitions = list(spec.expand(spec.params))
    except ValueError as exc:
        raise ValueError(f"{where}.name: {exc}") from None
    devices = []
    for name, values in repetitions:
        try:
            address = _check_address(evaluate(spec.short_address, values))
        except ValueError as exc:
            raise ValueError(f"{where} ({name}).short_address: {exc}") from None
        device = DaliDevice(name, address, spec.poll_interval_s, points, spec.latch)
        devices.append((device, values))
    return devices


def resolve_devices(specs: tuple[DaliDeviceSpec, ...]) -> tuple[DaliDevice, ...]:
    """One device per short address; a short address used twice on the line is refused with a
    ``ValueError`` naming ``devices[i]`` (a name used twice is the agent's config check, across buses)."""
    devices: list[DaliDevice] = []
    owner: dict[int, str] = {}
    for i, spec in enumerate(specs):
        for dev in expand(spec, f"devices[{i}]"):
            where = f"devices[{i}] ({dev.name})"
            if dev.address in owner:
                raise ValueError(f"{where}.short_address: {dev.address} is also {owner[dev.address]}")
            owner[dev.address] = where
            devices.append(dev)
    return tuple(devices)
