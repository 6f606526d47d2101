"""Loop detectors of the traffic-controller simulator: vehicles arrive at random (Poisson, seeded), each
covers the loop for a moment; counts and occupancy are totalled per period aligned on the clock
(RSMP S0201/S0203 style: the values of the last complete period).

Arrivals do not depend on the signals (a simulator for the agent, not for traffic engineering).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from simulators.traffic.plan import DetectorSpec


@dataclass(frozen=True, slots=True)
class DetectorStatus:
    active: bool  # a vehicle is over the loop now
    count: int  # vehicles in the last complete period
    occupancy: float  # % of the last complete period the loop was covered


class Detector:
    def __init__(self, spec: DetectorSpec, rng: random.Random, period_s: float, t0: float) -> None:
        self.spec = spec
        self._rng = rng
        self._period = period_s
        self._period_start = math.floor(t0 / period_s) * period_s
        self._rate = spec.flow_veh_h / 3600.0
        self._next = t0 + self._gap()
        self._busy_from = -math.inf
        self._busy_until = -math.inf
        self._accounted = t0
        self._count = 0
        self._occupied = 0.0
        self.last = DetectorStatus(False, 0, 0.0)
        self._t = t0

    def _gap(self) -> float:
        return self._rng.expovariate(self._rate) if self._rate > 0 else math.inf

    def _accrue(self, upto: float) -> None:
        overlap = min(self._busy_until, upto) - max(self._busy_from, self._accounted)
        if overlap > 0:
            self._occupied += overlap
        self._accounted = max(self._accounted, upto)

    def advance(self, t: float) -> None:
        """Play arrivals and period ends up to ``t`` (time never goes back)."""
        if t < self._t:
            return
        self._t = t
        while True:
            boundary = self._period_start + self._period
            if self._next <= t and self._next < boundary:
                a = self._next
                self._accrue(a)
                if a >= self._busy_until:
                    self._busy_from = a
                self._busy_until = max(self._busy_until, a + self.spec.occupancy_s)
                self._count += 1
                self._next = a + self._gap()
            elif boundary <= t:
                self._accrue(boundary)
                occupancy = round(100.0 * self._occupied / self._period, 1)
                self.last = DetectorStatus(False, self._count, occupancy)
                self._count = 0
                self._occupied = 0.0
                self._period_start = boundary
            else:
                break

    def status(self, t: float) -> DetectorStatus:
        self.advance(t)
        return DetectorStatus(self._busy_from <= t < self._busy_until, self.last.count, self.last.occupancy)
