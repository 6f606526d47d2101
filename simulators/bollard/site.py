"""The model of a retractable-bollard access site (devices.md §3, §5.3): 1 to 3 bollards that move
together, their controller's logic and interlocks, with no I/O.

Time comes from an injected ``now()`` (monotonic seconds): every input change, command and ``reading()``
first plays the timed events up to ``now()`` (end of the pre-warning, end of travel, travel timeout,
end of a hold, the 30 s auto-rise), in order. What is modelled:

- states up / down / rising / lowering / fault / emergency-down / maintenance (``SiteState``); a rise
  starts with 1 s of lights and buzzer (Gibidi), then travels in ``rise_s``; a lowering in ``lower_s``
  (3–6 s);
- operating logic (``Logic``): automatic (after a lower, rises again once a vehicle has crossed the loops
  and they are clear, or 30 s after reaching the bottom), semi-automatic (moves only on command),
  permanent down, permanent up;
- interlocks: a raise is refused while a loop or a pressure switch is active; a loop or a pressure
  trip during the rise reverses to down (an inversion); after ``max_inversions`` consecutive inversions
  the site stays down (fault code 3) until a new raise command or a reset; emergency lowering pre-empts
  everything and latches until a reset;
- faults (``FaultCode``): a thermal trip stops the pump (a rise turns into a lowering: the valve and
  gravity lower a bollard); a solenoid fault stops all motion, and so does a jammed drive, until the
  travel times out (faults 1, 2); a power failure lowers the site (fail-down) or holds it where it is
  (fail-up). Mains coming back clears the power fault; the others need a reset once their cause is
  gone. Limit switches that disagree with the position at rest (both or neither closed) are fault 6;
- a maintenance mode or a manual release lowers the site and refuses remote commands (result 5);
- cycle counter (one per completed rise), cycles to next service, last rise / lower travel times, and
  hydraulic pressure, oil temperature and motor current derived from what the drive is doing.

Commands return a ``Result`` (devices.md §5.3, register 103), with one addition: 5 = refused because
the site is under local control (maintenance, manual release, or a permanent logic that forbids it).
Lowering is the safe direction: during a fault a lower is still carried out whenever the valve can
lower the bollards (not with a solenoid fault, nor in a fail-up power failure); a raise is refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

from simulators.bollard.codes import (
    BollardInputs,
    BollardReading,
    Command,
    FaultCode,
    LimitFault,
    Logic,
    Result,
    SiteReading,
    SiteState,
)
from simulators.bollard.drive import Arrival, Motion
from simulators.bollard.rules import SiteRules


class BollardSite(SiteRules):
    # --- inputs (the sim-control block) -------------------------------------------------------

    def set_loop(self, loop: int, occupied: bool) -> None:
        with self._change():
            if occupied and not self.loops[loop]:
                self._transit = True  # a rise in progress reverses; the crossing then re-arms it
            self.loops[loop] = occupied

    def set_bollard(
        self,
        bollard: int,
        *,
        pressure: bool | None = None,
        thermal: bool | None = None,
        solenoid: bool | None = None,
        manual_release: bool | None = None,
        limit_fault: LimitFault | None = None,
    ) -> None:
        """Change the inputs of one bollard (0-based); ``None`` leaves an input as it is."""
        b = self.bollards[bollard]
        with self._change():
            b.pressure = b.pressure if pressure is None else pressure
            b.thermal = b.thermal if thermal is None else thermal
            b.solenoid = b.solenoid if solenoid is None else solenoid
            b.manual_release = b.manual_release if manual_release is None else manual_release
            b.limit_fault = b.limit_fault if limit_fault is None else limit_fault

    def set_site(
        self,
        *,
        mains_failure: bool | None = None,
        door_open: bool | None = None,
        maintenance: bool | None = None,
        jammed: bool | None = None,
        logic: Logic | None = None,
    ) -> None:
        with self._change():
            self.mains_failure = self.mains_failure if mains_failure is None else mains_failure
            self.door_open = self.door_open if door_open is None else door_open
            self.maintenance = self.maintenance if maintenance is None else maintenance
            self.drive.jammed = self.drive.jammed if jammed is None else jammed
            if logic is not None and logic is not self.logic:
                self.logic = logic
                self._hold_until = None
                self._rearm()
                if logic is Logic.PERMANENT_DOWN and self.drive.upwards:
                    self._lower()

    # --- commands ------------------------------------------------------------------------------

    def command(self, command: Command, hold_s: int = 0) -> Result:
        """Carry out ``command`` (``hold_s``: HOLD_DOWN's duration, 0 = until RELEASE_HOLD)."""
        with self._change():
            return self._command(command, hold_s)

    def _command(self, command: Command, hold_s: int) -> Result:  # noqa: PLR0912 - one branch a command
        if command is Command.EMERGENCY_LOWER:
            self.emergency = True
            self._hold_until = None
            self._lower()
            return Result.OK
        if command is Command.RESET_FAULT:
            return self._reset()
        if self.emergency:
            return Result.OK if command is Command.LOWER else Result.EMERGENCY_ACTIVE
        if self._local:
            return Result.LOCAL_CONTROL
        faulted = self.fault not in (FaultCode.NONE, FaultCode.INVERSION_LIMIT)
        if command is Command.RAISE:
            if faulted:
                return Result.FAULT
            if self.logic is Logic.PERMANENT_DOWN:
                return Result.LOCAL_CONTROL
            if any(self.loops):
                return Result.LOOP_OCCUPIED
            if any(b.pressure for b in self.bollards):
                return Result.PRESSURE_SWITCH
            if self.fault is FaultCode.INVERSION_LIMIT:
                self.fault, self.inversions = FaultCode.NONE, 0
            self._hold_until = None
            self._raise()
            return Result.OK
        if self.logic is Logic.PERMANENT_UP and command in (Command.LOWER, Command.HOLD_DOWN):
            return Result.LOCAL_CONTROL
        if command is Command.RELEASE_HOLD:
            if self._hold_until is not None:
                self._hold_until = None
                self._rearm()
            return Result.OK
        if faulted and not self._can_move(Motion.LOWERING):
            return Result.FAULT  # the valve is stuck, or the mains is off and nothing lowers it
        if command is Command.HOLD_DOWN:
            self._hold_until = self._t + hold_s if hold_s > 0 else math.inf
        self._rearm()
        self._lower()
        return Result.OK

    def _reset(self) -> Result:
        causes = self.mains_failure or any(
            b.thermal or b.solenoid or b.limit_fault is not LimitFault.NONE for b in self.bollards
        )
        if causes:
            return Result.FAULT
        self.fault, self.emergency, self.inversions = FaultCode.NONE, False, 0
        self._rearm()
        return Result.OK

    # --- what the controller reports --------------------------------------------------------

    def reading(self) -> SiteReading:
        self._advance()
        state, idle, at_bottom = self._state(), self.drive.motion is Motion.IDLE, self.drive.position <= 0
        bar, amps = self.drive.hydraulics()
        interval = self.settings.service_interval
        return SiteReading(
            state=state,
            logic=self.logic,
            fault=self.fault,
            inversions=self.inversions,
            cycles=self.cycles,
            cycles_to_service=max(0, interval - self.since_service),
            last_rise_ms=self.last_rise_ms,
            last_lower_ms=self.last_lower_ms,
            hydraulic_bar=bar,
            oil_c=self.drive.oil_c,
            motor_a=amps,
            loops=(self.loops[0], self.loops[1]),
            emergency=self.emergency,
            mains_failure=self.mains_failure,
            door_open=self.door_open,
            light_green=idle and at_bottom and state in (SiteState.DOWN, SiteState.EMERGENCY_DOWN),
            flashing=not idle,
            bollards=tuple(self._bollard(b) for b in self.bollards),
        )

    def state(self) -> SiteState:
        """The site state now."""
        self._advance()
        return self._state()

    def _state(self) -> SiteState:
        if self.emergency:
            return SiteState.EMERGENCY_DOWN
        if self.fault not in (FaultCode.NONE, FaultCode.INVERSION_LIMIT):
            return SiteState.FAULT
        if self._local:
            return SiteState.MAINTENANCE
        if self.drive.upwards:
            return SiteState.RISING
        if self.drive.motion is Motion.LOWERING:
            return SiteState.LOWERING
        if self.drive.position >= 1:
            return SiteState.UP
        return SiteState.DOWN if self.drive.position <= 0 else SiteState.UNKNOWN

    def _bollard(self, b: BollardInputs) -> BollardReading:
        top, bottom = b.limits(self.drive.position)
        return BollardReading(
            top_limit=top,
            bottom_limit=bottom,
            pressure_switch=b.pressure,
            rise_limit_pressure_switch=self.drive.position >= 1 and self.drive.motion is Motion.IDLE,
            manual_release=b.manual_release,
            thermal_trip=b.thermal,
            solenoid_fault=b.solenoid,
        )

    # --- time ------------------------------------------------------------------------------

    @contextmanager
    def _change(self) -> Iterator[None]:
        """Around every change: catch up with the clock first, apply the controller's rules after."""
        self._advance()
        yield
        self._settle()

    def _advance(self) -> None:
        """Play the timed events up to ``now()``, in order."""
        now = self._now()
        for _ in range(1000):
            due = self._next_event()
            if due is None or due > now:
                self._integrate(now)
                return
            self._integrate(due)
            self._on_time()
            self._settle()
        raise RuntimeError("bollard model: timed events do not converge")

    def _next_event(self) -> float | None:
        due = [self.drive.next_event(self._t)]
        if self._hold_until is not None and self._hold_until < math.inf:
            due.append(self._hold_until)
        auto = self._down_since + self.settings.auto_rise_s
        if self.logic is Logic.AUTOMATIC and self.drive.motion is Motion.IDLE and auto > self._t:
            due.append(auto)
        return min((d for d in due if d is not None), default=None)

    def _integrate(self, until: float) -> None:
        if until > self._t:
            self.drive.integrate(until - self._t)
            self._t = until

    def _on_time(self) -> None:
        match self.drive.step(self._t):
            case Arrival.TOP:
                self.cycles += 1
                self.since_service += 1
                self.last_rise_ms, self.inversions = self.drive.last_travel_ms, 0
            case Arrival.BOTTOM:
                self.last_lower_ms = self.drive.last_travel_ms
                self._down_since = self._t
            case Arrival.RISE_TIMEOUT:
                self._set_fault(FaultCode.RISE_TIMEOUT)
            case Arrival.LOWER_TIMEOUT:
                self._set_fault(FaultCode.LOWER_TIMEOUT)
            case None:
                pass
        if self._hold_until is not None and self._t >= self._hold_until:
            self._hold_until = None
            self._rearm()
