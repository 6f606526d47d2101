"""The hydraulic drive of a bollard site: where the bollards are and how they move in time. No I/O and no
clock of its own: the site model passes the time in.

``position`` runs from 0 (down, passage open) to 1 (up, closed). A rise starts with ``prewarn_s`` of
lights and buzzer without moving, then travels the whole way in ``rise_s``; a lowering in ``lower_s``.
A jammed drive makes no progress, and a travel that has not arrived after ``travel_timeout_s`` stops.
``step`` reports what ended at that instant (``Arrival``): the site model turns it into counters and
faults.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from simulators.bollard.codes import SiteSettings

AMBIENT_C = 20.0
_PUMP_HEAT_C = 40.0  # oil temperature rise above ambient with the pump running for ever
_TAU_S = 300.0
_EPS = 1e-9


class Motion(enum.Enum):
    IDLE = "idle"
    PREWARN = "prewarn"  # lights and buzzer before a rise; the bollard has not moved yet
    RISING = "rising"
    LOWERING = "lowering"


class Arrival(enum.Enum):
    TOP = "top"
    BOTTOM = "bottom"
    RISE_TIMEOUT = "rise timeout"
    LOWER_TIMEOUT = "lower timeout"


@dataclass(slots=True)
class Drive:
    settings: SiteSettings
    position: float
    since: float  # start of the pre-warning or of the travel
    motion: Motion = Motion.IDLE
    jammed: bool = False
    oil_c: float = AMBIENT_C
    last_travel_ms: int = 0  # of the travel that ended last

    @property
    def upwards(self) -> bool:
        return self.motion in (Motion.PREWARN, Motion.RISING)

    def move(self, motion: Motion, t: float) -> None:
        self.motion, self.since = motion, t

    def next_event(self, t: float) -> float | None:
        s, m = self.settings, self.motion
        if m is Motion.PREWARN:
            return self.since + s.prewarn_s
        if m is Motion.IDLE:
            return None
        timeout = self.since + s.travel_timeout_s
        if self.jammed:
            return timeout
        rest = (1 - self.position) * s.rise_s if m is Motion.RISING else self.position * s.lower_s
        return min(timeout, t + rest)

    def integrate(self, dt: float) -> None:
        s, m = self.settings, self.motion
        if not self.jammed and m is Motion.RISING:
            self.position = min(1.0, self.position + dt / s.rise_s)
        elif not self.jammed and m is Motion.LOWERING:
            self.position = max(0.0, self.position - dt / s.lower_s)
        target = AMBIENT_C + (_PUMP_HEAT_C if m is Motion.RISING else 0.0)
        self.oil_c = target + (self.oil_c - target) * math.exp(-dt / _TAU_S)

    def step(self, t: float) -> Arrival | None:
        """End what is due at ``t``: the pre-warning (the travel starts), an arrival or a timeout."""
        s, m = self.settings, self.motion
        arrival = None
        if m is Motion.PREWARN and t >= self.since + s.prewarn_s - _EPS:
            self.move(Motion.RISING, t)
        elif m is Motion.RISING and self.position >= 1 - _EPS:
            self.position, arrival = 1.0, Arrival.TOP
        elif m is Motion.LOWERING and self.position <= _EPS:
            self.position, arrival = 0.0, Arrival.BOTTOM
        elif m is not Motion.IDLE and t >= self.since + s.travel_timeout_s - _EPS:
            arrival = Arrival.RISE_TIMEOUT if m is Motion.RISING else Arrival.LOWER_TIMEOUT
        if arrival is not None:
            self.last_travel_ms = round((t - self.since) * 1000)
            self.move(Motion.IDLE, t)
        return arrival

    def hydraulics(self) -> tuple[float, float]:
        """(hydraulic pressure bar, motor current A) for what the drive is doing."""
        if self.motion is Motion.RISING:
            return (160.0, 14.0) if self.jammed else (45.0, 8.5)  # jammed: stalled, on the relief valve
        if self.motion is Motion.LOWERING:
            return 3.0, 0.4  # the valve open, its solenoid powered
        return (12.0 if self.position >= 1 else 0.0), 0.0
