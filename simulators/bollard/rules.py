"""The state of a bollard site and the rules its controller applies after every change (interlocks,
inversions, faults, the automatic logic's window): the base of :class:`~simulators.bollard.site.BollardSite`,
which adds the inputs, the commands, the report and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable

from simulators.bollard.codes import BollardInputs, FaultCode, Logic, PowerFail, SiteSettings
from simulators.bollard.drive import Drive, Motion

_EPS = 1e-9


class SiteRules:
    def __init__(
        self,
        count: int = 1,
        now: Callable[[], float] = time.monotonic,
        settings: SiteSettings | None = None,
        logic: Logic = Logic.AUTOMATIC,
        *,
        up: bool = True,
    ) -> None:
        if not 1 <= count <= 3:
            raise ValueError(f"a site has 1..3 bollards, got {count}")
        self.settings = settings or SiteSettings()
        self.bollards = tuple(BollardInputs() for _ in range(count))
        self._now = now
        self._t = now()
        self.logic = logic
        self.loops = [False, False]
        self.mains_failure = self.door_open = self.maintenance = False
        self.drive = Drive(self.settings, position=1.0 if up else 0.0, since=self._t)
        self.fault = FaultCode.NONE
        self.emergency = False
        self.inversions = self.cycles = self.since_service = 0
        self.last_rise_ms = self.last_lower_ms = 0
        self._hold_until: float | None = None  # math.inf: until released
        self._down_since = self._t  # start of the automatic logic's 30 s
        self._transit = False  # a vehicle was on a loop since the last lower
        self._was_local = False
        self._settle()

    @property
    def _local(self) -> bool:
        return self.maintenance or any(b.manual_release for b in self.bollards)

    @property
    def _pump_stopped(self) -> bool:
        return self.mains_failure or any(b.thermal for b in self.bollards)

    # --- the controller's rules --------------------------------------------------------------

    def _settle(self) -> None:
        """Apply the rules that hold at every instant, after any change."""
        self._detect_faults()
        if self._was_local and not self._local:
            self._rearm()  # back from maintenance: the automatic logic starts its window again
        self._was_local = self._local
        drive = self.drive
        idle, rising, position = drive.motion is Motion.IDLE, drive.upwards, drive.position
        tripped = any(self.loops) or any(b.pressure for b in self.bollards)
        if rising and tripped:
            self.inversions += 1
            if self.inversions >= self.settings.max_inversions:
                self._set_fault(FaultCode.INVERSION_LIMIT)
            self._lower()
        elif (rising and (self._local or self._pump_stopped)) or (idle and position > 0 and self._wants_down):
            self._lower()
        elif idle and position <= 0 and self._wants_up and not tripped:
            self._raise()
        if drive.motion is not Motion.IDLE and not self._can_move(drive.motion):
            drive.move(Motion.IDLE, self._t)
        self._check_limits()

    def _can_move(self, motion: Motion) -> bool:
        if any(b.solenoid for b in self.bollards):
            return False
        if motion is Motion.LOWERING:
            fail_up = self.settings.power_fail is PowerFail.UP
            return not (self.mains_failure and fail_up and not self.emergency)
        return not self._pump_stopped

    @property
    def _wants_down(self) -> bool:
        if self.emergency or self._local or self.logic is Logic.PERMANENT_DOWN:
            return True
        if self.fault is FaultCode.POWER:
            return self.settings.power_fail is PowerFail.DOWN
        return self.fault is FaultCode.NONE and self.drive.position < 1  # stopped half-way: the safe side

    @property
    def _wants_up(self) -> bool:
        if self.emergency or self._local or self.fault is not FaultCode.NONE or self._hold_until is not None:
            return False
        if self.logic is Logic.PERMANENT_UP:
            return True
        if self.logic is not Logic.AUTOMATIC:
            return False
        return self._transit or self._t >= self._down_since + self.settings.auto_rise_s - _EPS

    def _detect_faults(self) -> None:
        if self.mains_failure:
            self._set_fault(FaultCode.POWER)
        elif self.fault is FaultCode.POWER:
            self.fault = FaultCode.NONE  # mains back
            self._rearm()
        if any(b.thermal for b in self.bollards):
            self._set_fault(FaultCode.THERMAL)
        if any(b.solenoid for b in self.bollards):
            self._set_fault(FaultCode.HYDRAULIC)

    def _check_limits(self) -> None:
        position = self.drive.position
        if self.drive.motion is not Motion.IDLE or 0 < position < 1:
            return
        expected = (position >= 1, position <= 0)
        if any(b.limits(position) != expected for b in self.bollards):
            self._set_fault(FaultCode.LIMIT_SWITCH)

    def _set_fault(self, code: FaultCode) -> None:
        """Record ``code`` unless a fault is already active (the first cause is what a person needs)."""
        if self.fault in (FaultCode.NONE, FaultCode.INVERSION_LIMIT):
            self.fault = code

    def _raise(self) -> None:
        if not (self.drive.upwards or self.drive.position >= 1):
            self._transit = False
            self.drive.move(Motion.PREWARN, self._t)

    def _lower(self) -> None:
        if self.drive.motion is Motion.LOWERING:
            return
        # at the bottom already: ends a pre-warning that had not moved the bollard yet
        self.drive.move(Motion.LOWERING if self.drive.position > 0 else Motion.IDLE, self._t)

    def _rearm(self) -> None:
        """Start the automatic logic's window again: rise after a transit or ``auto_rise_s``."""
        self._down_since = self._t
        self._transit = any(self.loops)
