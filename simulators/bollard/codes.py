"""The vocabulary of the bollard-site simulator (devices.md §5.3): the codes its registers carry, its
settings, the inputs a test or the sim-control block changes, and what the model reports.

The integer values are the register encodings of §5.3, with one addition: ``Result.LOCAL_CONTROL`` (5).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SiteState(enum.IntEnum):
    UNKNOWN = 0
    UP = 1
    DOWN = 2
    RISING = 3
    LOWERING = 4
    FAULT = 5
    EMERGENCY_DOWN = 6
    MAINTENANCE = 7


class Logic(enum.IntEnum):
    AUTOMATIC = 0
    SEMI_AUTOMATIC = 1
    PERMANENT_DOWN = 2
    PERMANENT_UP = 3


class FaultCode(enum.IntEnum):
    NONE = 0
    RISE_TIMEOUT = 1
    LOWER_TIMEOUT = 2
    INVERSION_LIMIT = 3
    THERMAL = 4
    HYDRAULIC = 5
    LIMIT_SWITCH = 6
    POWER = 7


class Command(enum.IntEnum):
    LOWER = 1
    RAISE = 2
    HOLD_DOWN = 3
    RELEASE_HOLD = 4
    EMERGENCY_LOWER = 5
    RESET_FAULT = 6


class Result(enum.IntEnum):
    OK = 0
    LOOP_OCCUPIED = 1
    PRESSURE_SWITCH = 2
    FAULT = 3
    EMERGENCY_ACTIVE = 4
    LOCAL_CONTROL = 5  # not in devices.md §5.3 yet: maintenance, manual release, permanent logic


class PowerFail(enum.IntEnum):
    DOWN = 0  # an automatic lowering device is fitted
    UP = 1  # the bollard holds where it is


class LimitFault(enum.IntEnum):
    """A limit-switch failure injected on one bollard."""

    NONE = 0
    TOP_STUCK = 1  # the top limit reads closed whatever the position
    BOTTOM_STUCK = 2
    BOTH_OPEN = 3  # a cut cable: neither limit closes


@dataclass(frozen=True, slots=True)
class SiteSettings:
    rise_s: float = 4.0
    lower_s: float = 3.0
    prewarn_s: float = 1.0
    auto_rise_s: float = 30.0
    travel_timeout_s: float = 10.0
    max_inversions: int = 3
    power_fail: PowerFail = PowerFail.DOWN
    service_interval: int = 10_000  # cycles between two services

    def __post_init__(self) -> None:
        for name, travel_s in (("rise_s", self.rise_s), ("lower_s", self.lower_s)):
            if not 3.0 <= travel_s <= 6.0:
                raise ValueError(f"{name} must be 3..6 s, got {travel_s}")
        if self.travel_timeout_s <= max(self.rise_s, self.lower_s):
            raise ValueError("travel_timeout_s must exceed the travel times")
        if not 1 <= self.max_inversions <= 10:
            raise ValueError(f"max_inversions must be 1..10, got {self.max_inversions}")


@dataclass(slots=True)
class BollardInputs:
    """What can go wrong on one bollard (set through the site's ``set_bollard``)."""

    pressure: bool = False  # inversion pressure switch: weight on the head
    thermal: bool = False  # pump motor thermal trip
    solenoid: bool = False  # solenoid-valve fault
    manual_release: bool = False
    limit_fault: LimitFault = LimitFault.NONE

    def limits(self, position: float) -> tuple[bool, bool]:
        """What the (top, bottom) limit switches read with the bollard at ``position`` (0..1)."""
        match self.limit_fault:
            case LimitFault.TOP_STUCK:
                return True, position <= 0
            case LimitFault.BOTTOM_STUCK:
                return position >= 1, True
            case LimitFault.BOTH_OPEN:
                return False, False
            case LimitFault.NONE:
                return position >= 1, position <= 0


@dataclass(frozen=True, slots=True)
class BollardReading:
    top_limit: bool
    bottom_limit: bool
    pressure_switch: bool
    rise_limit_pressure_switch: bool  # the rise stopped on the end-of-travel pressure
    manual_release: bool
    thermal_trip: bool
    solenoid_fault: bool


@dataclass(frozen=True, slots=True)
class SiteReading:
    state: SiteState
    logic: Logic
    fault: FaultCode
    inversions: int
    cycles: int
    cycles_to_service: int
    last_rise_ms: int
    last_lower_ms: int
    hydraulic_bar: float
    oil_c: float
    motor_a: float
    loops: tuple[bool, bool]
    emergency: bool
    mains_failure: bool
    door_open: bool
    light_green: bool
    flashing: bool
    bollards: tuple[BollardReading, ...]
