"""``sim-tlc``: the model of a traffic-light controller (devices.md §2 and §5.2; RSMP SXL names).

A fixed-time controller: the running plan's stages follow each other with their intergreens; a plan
change takes effect only at the cycle point; a bus-priority request may extend a green within the
plan's limit or bring a green forward, never below a minimum green; functional positions (yellow flash,
dark, all red) are entered after the running minimum green and an amber, and left through the start-up
sequence. The model is pure: time comes from ``now()`` and moves only when it is read, so tests drive it
with a manual clock. Commands are requests; a refused one raises :class:`CommandRefused`.

::

    tlc = TrafficController(now=clock)          # default_intersection(), default_plans(), plan 1
    tlc.snapshot().groups                        # ('1', '1', 'B', 'B', '1') RSMP S0001 characters
    tlc.set_plan(2, True, "1234")                # seconds until the next cycle point
    tlc.request_priority("bus-42", 3, PriorityType.NEW, level=5, eta_s=20, vehicle_type=0)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping

from simulators.traffic.detectors import Detector
from simulators.traffic.plan import Cycle, Intersection, Plan, default_intersection, default_plans
from simulators.traffic.priority import PriorityDesk, PriorityRequest, PriorityState, PriorityType
from simulators.traffic.selection import PlanSelection
from simulators.traffic.signals import Leaving, group_states, leave
from simulators.traffic.status import (
    ALARMS,
    CommandRefused,
    ControlMode,
    FunctionalPosition,
    Refusal,
    Snapshot,
)

PRIORITY_SLOTS = 4  # requests shown


class TrafficController:
    def __init__(
        self,
        intersection: Intersection | None = None,
        plans: Mapping[int, Plan] | None = None,
        *,
        now: Callable[[], float] = time.monotonic,
        plan: int = 1,
        security_code: str = "1234",
        watchdog_s: float = 120.0,
        detector_period_s: float = 60.0,
        priority_timeout_s: float = 30.0,
        cooldown_s: float = 20.0,
        linger_s: float = 60.0,
        seed: int = 0,
    ) -> None:
        self.intersection = intersection or default_intersection()
        self.plans = dict(plans or default_plans())
        for p in self.plans.values():
            self.intersection.check(p)
        if plan not in self.plans:
            raise ValueError(f"no plan {plan} (plans: {sorted(self.plans)})")
        self._now = now
        self._security_code = security_code
        self._watchdog_s = watchdog_s
        t = now()
        self._t = t
        rng = random.Random(seed)
        self._detectors = [
            Detector(d, random.Random(rng.getrandbits(64)), detector_period_s, t)
            for d in self.intersection.detectors
        ]
        self._plans = PlanSelection(self.plans, plan)
        self._alarms = dict.fromkeys(ALARMS, False)
        self._priority = PriorityDesk(
            self.intersection,
            self._running_cycle,
            timeout_s=priority_timeout_s,
            cooldown_s=cooldown_s,
            linger_s=linger_s,
        )
        self._watchdog_at: float | None = None
        self._position_timeout_at: float | None = None
        self._leaving: Leaving | None = None
        self._cycle: Cycle | None = None
        self._position = FunctionalPosition.NORMAL
        self._mode = ControlMode.STARTUP
        self._startup_at = self._startup_end = t
        self._begin_startup(t)

    # --- reading ----------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        t = self._advance()
        cycle = self._cycle
        running = cycle is not None and self._mode is ControlMode.CONTROL
        stage = 0
        if cycle is not None and running:
            stage = self.intersection.stages[cycle.position(t).stage].number
        return Snapshot(
            control_mode=self._mode,
            functional_position=self._position,
            plan=self._plans.plan.number,
            plan_source=self._plans.source,
            cycle_counter=int(t - cycle.start) if cycle is not None and running else 0,
            cycle_time=round(self.intersection.cycle_time(self._plans.plan)),
            stage=stage,
            groups=group_states(
                self.intersection, t, self._mode, self._position, self._startup_at, self._cycle, self._leaving
            ),
            detectors=tuple(d.status(t) for d in self._detectors),
            alarms=dict(self._alarms),
            priority=self._priority.slots(PRIORITY_SLOTS),
        )

    def request(self, request_id: str) -> PriorityRequest:
        self._advance()
        return self._priority.find(request_id)

    # --- commands (RSMP M0001, M0002, M0022, and the central's watchdog) --------------------------

    def set_plan(self, plan: int, use_commanded: bool, security_code: str) -> float:
        """Ask for ``plan`` (or, with ``use_commanded`` false, for the controller's own timetable).
        Returns the seconds until it takes effect: the next cycle point."""
        t = self._advance()
        self._check_code(security_code)
        target = self._plans.target(plan, use_commanded)
        cycle = self._cycle if self._mode is ControlMode.CONTROL else None
        return cycle.end - t if self._plans.select(target, cycling=cycle is not None) and cycle else 0.0

    def set_functional_position(
        self, position: FunctionalPosition, timeout_min: int, security_code: str
    ) -> float:
        """Ask for a functional position; ``timeout_min`` (0..1440, 0 = none) returns to normal control
        after that long. Returns the seconds until the position is reached."""
        t = self._advance()
        self._check_code(security_code)
        if not 0 <= timeout_min <= 1440:
            raise CommandRefused(Refusal.INVALID_ARGUMENT, f"timeout {timeout_min} min is outside 0..1440")
        if position is FunctionalPosition.NORMAL:
            if self._alarms["A0006"]:
                raise CommandRefused(Refusal.INVALID_STATE, "safety error A0006 is active")
            self._position_timeout_at = None
            if self._leaving is not None:
                self._leaving = None
                return 0.0
            if self._position is FunctionalPosition.NORMAL and self._mode is not ControlMode.FAILURE:
                return max(0.0, self._startup_end - t) if self._mode is ControlMode.STARTUP else 0.0
            self._begin_startup(t)
            return self._startup_end - t
        if self._mode is ControlMode.FAILURE:
            raise CommandRefused(Refusal.INVALID_STATE, "the controller is in failure mode")
        self._position_timeout_at = t + 60.0 * timeout_min if timeout_min else None
        if self._leaving is not None:
            self._leaving.target = position
            return self._leaving.at - t
        cycle = self._cycle
        if (
            self._mode is ControlMode.CONTROL
            and cycle is not None
            and self._position is FunctionalPosition.NORMAL
        ):
            self._leaving = leave(self.intersection, cycle, position, t)
            self._priority.reject_all(t)
            return self._leaving.at - t
        self._enter(position, t)
        return 0.0

    def request_priority(
        self,
        request_id: str,
        signal_group: int,
        type_: PriorityType,
        *,
        level: int,
        eta_s: float,
        vehicle_type: int,
    ) -> PriorityState:
        """RSMP M0022: a bus-priority request (new, update, cancel); returns the request's state."""
        t = self._advance()
        try:
            return self._priority.request(
                t, request_id, signal_group, type_, level=level, eta_s=eta_s, vehicle_type=vehicle_type
            )
        except ValueError as exc:
            raise CommandRefused(Refusal.INVALID_ARGUMENT, str(exc)) from None

    def heartbeat(self) -> None:
        """The central is alive: restart the watchdog (it is armed by the first heartbeat)."""
        t = self._advance()
        self._watchdog_at = t + self._watchdog_s
        self._alarms["A0007"] = False

    def set_alarm(self, code: str, active: bool) -> None:
        """Fault injection. A0006 (safety error) sends the controller to failure mode (yellow flash)."""
        t = self._advance()
        if code not in self._alarms:
            raise ValueError(f"no alarm {code} (alarms: {', '.join(ALARMS)})")
        self._alarms[code] = active
        if code == "A0006" and active:
            self._mode = ControlMode.FAILURE
            self._priority.reject_all(t)
            self._cycle = None
            self._leaving = None
            self._position = FunctionalPosition.YELLOW_FLASH

    # --- time -------------------------------------------------------------------------------------

    def _advance(self) -> float:
        """Play every event up to now, in time order; return now."""
        t = max(self._now(), self._t)
        while True:
            due = self._next_event()
            if due is None or due[0] > t:
                break
            when, action = due
            action(when)
        self._t = t
        return t

    def _next_event(self) -> tuple[float, Callable[[float], None]] | None:
        events: list[tuple[float, Callable[[float], None]]] = []
        if self._mode is ControlMode.STARTUP:
            events.append((self._startup_end, self._end_startup))
        if self._leaving is not None:
            leaving = self._leaving
            events.append((leaving.at, lambda when: self._enter(leaving.target, when)))
        elif self._cycle is not None and self._mode is ControlMode.CONTROL:
            events.append((self._cycle.end, self._next_cycle))
        if self._position_timeout_at is not None:
            events.append((self._position_timeout_at, self._position_timeout))
        if self._watchdog_at is not None:
            events.append((self._watchdog_at, self._watchdog_expired))
        events.extend(self._priority.events())
        return min(events, key=lambda e: e[0], default=None)

    # --- modes and plans --------------------------------------------------------------------------

    def _begin_startup(self, t: float) -> None:
        self._mode = ControlMode.STARTUP
        self._position = FunctionalPosition.NORMAL
        self._cycle = None
        self._leaving = None
        self._startup_at = t
        self._startup_end = t + self.intersection.startup_flash_s + self.intersection.startup_red_s

    def _end_startup(self, when: float) -> None:
        self._mode = ControlMode.CONTROL
        self._start_cycle(when)

    def _enter(self, position: FunctionalPosition, when: float) -> None:
        self._leaving = None
        self._cycle = None
        self._position = position
        if self._mode is ControlMode.STARTUP:
            self._mode = ControlMode.CONTROL

    def _position_timeout(self, when: float) -> None:
        self._position_timeout_at = None
        if self._leaving is not None:
            self._leaving = None
        elif self._position is not FunctionalPosition.NORMAL and self._mode is not ControlMode.FAILURE:
            self._begin_startup(when)

    def _watchdog_expired(self, when: float) -> None:
        self._watchdog_at = None
        self._alarms["A0007"] = True
        self._plans.watchdog_expired(cycling=self._cycle is not None and self._mode is ControlMode.CONTROL)

    def _next_cycle(self, when: float) -> None:
        self._start_cycle(when)
        self._priority.next_cycle(when)

    def _start_cycle(self, when: float) -> None:
        self._cycle = Cycle(self.intersection, self._plans.at_cycle_point(), when)

    def _running_cycle(self) -> Cycle | None:
        """The cycle while the controller is in normal control (priority may act on it), else None."""
        normal = self._position is FunctionalPosition.NORMAL and self._leaving is None
        return self._cycle if normal and self._mode is ControlMode.CONTROL else None

    def _check_code(self, code: str) -> None:
        if code != self._security_code:
            raise CommandRefused(Refusal.BAD_SECURITY_CODE, "the security code does not match")
