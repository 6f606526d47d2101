"""What the traffic-controller simulator shows and answers: control modes, functional positions, plan
sources, signal-group colours, RSMP alarm codes, a :class:`Snapshot` of its state, and the refusal of a
command. Shared by the model (``traffic_controller``) and the OPC-UA server (``opcua_server``)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from simulators.traffic.detectors import DetectorStatus
from simulators.traffic.priority import PrioritySlot

ALARMS: Mapping[str, str] = {
    "A0001": "serious hardware error",
    "A0002": "less serious hardware error",
    "A0003": "serious configuration error",
    "A0004": "less serious configuration error",
    "A0005": "synchronisation error",
    "A0006": "safety error (the controller goes to failure mode)",
    "A0007": "communication error (central watchdog expired)",
    "A0008": "dead lock error",
    "A0009": "other error",
    "A0010": "door open",
    "A0101": "push-button error",
    "A0201": "serious lamp error",
    "A0202": "less serious lamp error",
    "A0301": "detector error",
    "A0302": "serious detector error",
}


class ControlMode(enum.IntEnum):  # RSMP S0020
    STARTUP = 0
    CONTROL = 1
    STANDBY = 2
    FAILURE = 3
    TEST = 4


class FunctionalPosition(enum.IntEnum):  # RSMP M0001 / S0007, S0011, S0012
    NORMAL = 0
    YELLOW_FLASH = 1
    DARK = 2
    ALL_RED = 3


class PlanSource(enum.IntEnum):  # RSMP S0014
    OPERATOR_PANEL = 0
    CALENDAR_CLOCK = 1
    CONTROL_BLOCK = 2
    FORCED = 3
    STARTUP = 4
    OTHER = 5


class Color(enum.IntEnum):
    DARK = 0
    RED = 1
    RED_AMBER = 2
    AMBER = 3
    GREEN = 4
    FLASHING_AMBER = 5


def color(state: str) -> Color:
    """The light an RSMP signal-group character shows."""
    if state in "ab":
        return Color.DARK
    if state in "ce":
        return Color.FLASHING_AMBER
    if state in "fNO":
        return Color.AMBER
    if state == "0":
        return Color.RED_AMBER
    if state.isdigit():
        return Color.GREEN
    return Color.RED  # d g h A-G P


class Refusal(enum.Enum):
    BAD_SECURITY_CODE = "bad security code"
    INVALID_ARGUMENT = "invalid argument"
    INVALID_STATE = "not possible in the controller's state"


class CommandRefused(Exception):
    def __init__(self, refusal: Refusal, detail: str) -> None:
        super().__init__(f"{refusal.value}: {detail}")
        self.refusal = refusal
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Snapshot:
    control_mode: ControlMode
    functional_position: FunctionalPosition
    plan: int
    plan_source: PlanSource
    cycle_counter: int  # s since the cycle point
    cycle_time: int  # s
    stage: int  # 1-based; 0 when no stage runs
    groups: tuple[str, ...]  # RSMP character per signal group
    detectors: tuple[DetectorStatus, ...]
    alarms: Mapping[str, bool]
    priority: tuple[PrioritySlot, ...]  # the most recent requests, newest last

    @property
    def colors(self) -> tuple[Color, ...]:
        return tuple(color(s) for s in self.groups)
