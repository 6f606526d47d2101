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

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from simulators.traffic.detectors import Detector
from simulators.traffic.plan import (
    Cycle,
    Intersection,
    Phase,
    Plan,
    Position,
    default_intersection,
    default_plans,
)
from simulators.traffic.priority import PriorityDesk, PriorityRequest, PriorityState, PriorityType
from simulators.traffic.status import (
    ALARMS,
    CommandRefused,
    ControlMode,
    FunctionalPosition,
    PlanSource,
    Refusal,
    Snapshot,
)

PRIORITY_SLOTS = 4  # requests shown


@dataclass(slots=True)
class _Leaving:
    """On the way from normal control to another functional position."""

    target: FunctionalPosition
    stage: int
    at: float  # when the target position takes effect


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
        self._timetable_plan = plan
        self._plan = self.plans[plan]
        self._source = PlanSource.CALENDAR_CLOCK
        self._pending: tuple[int, PlanSource] | None = None
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
        self._leaving: _Leaving | None = None
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
            plan=self._plan.number,
            plan_source=self._source,
            cycle_counter=int(t - cycle.start) if cycle is not None and running else 0,
            cycle_time=round(self.intersection.cycle_time(self._plan)),
            stage=stage,
            groups=self._group_states(t),
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
        if use_commanded and plan not in self.plans:
            raise CommandRefused(Refusal.INVALID_ARGUMENT, f"no plan {plan} (plans: {sorted(self.plans)})")
        target = (
            (plan, PlanSource.FORCED) if use_commanded else (self._timetable_plan, PlanSource.CALENDAR_CLOCK)
        )
        if target == (self._plan.number, self._source):
            self._pending = None
            return 0.0
        if self._cycle is not None and self._mode is ControlMode.CONTROL:
            self._pending = target
            return self._cycle.end - t
        self._apply_plan(target)
        return 0.0

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
            pos = cycle.position(t)
            end = cycle.cut(pos.stage, t) if pos.phase is Phase.GREEN else pos.green_end
            groups = self.intersection.stages[pos.stage].groups
            amber = max(self.intersection.group(g).amber_s for g in groups)
            self._leaving = _Leaving(position, pos.stage, max(t, end + amber))
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
        if self._source is PlanSource.FORCED or (self._pending and self._pending[1] is PlanSource.FORCED):
            target = (self._timetable_plan, PlanSource.CALENDAR_CLOCK)
            if self._cycle is not None and self._mode is ControlMode.CONTROL:
                self._pending = target
            else:
                self._apply_plan(target)

    def _apply_plan(self, target: tuple[int, PlanSource]) -> None:
        self._plan = self.plans[target[0]]
        self._source = target[1]
        self._pending = None

    def _next_cycle(self, when: float) -> None:
        self._start_cycle(when)
        self._priority.next_cycle(when)

    def _start_cycle(self, when: float) -> None:
        if self._pending is not None:
            self._apply_plan(self._pending)
        self._cycle = Cycle(self.intersection, self._plan, when)

    def _running_cycle(self) -> Cycle | None:
        """The cycle while the controller is in normal control (priority may act on it), else None."""
        normal = self._position is FunctionalPosition.NORMAL and self._leaving is None
        return self._cycle if normal and self._mode is ControlMode.CONTROL else None

    def _check_code(self, code: str) -> None:
        if code != self._security_code:
            raise CommandRefused(Refusal.BAD_SECURITY_CODE, "the security code does not match")

    # --- signal groups ----------------------------------------------------------------------------

    def _group_states(self, t: float) -> tuple[str, ...]:
        n = len(self.intersection.groups)
        if self._mode is ControlMode.FAILURE or self._position is FunctionalPosition.YELLOW_FLASH:
            return ("c",) * n
        if self._position is FunctionalPosition.DARK:
            return ("b",) * n
        if self._position is FunctionalPosition.ALL_RED:
            return ("h",) * n
        if self._mode is ControlMode.STARTUP:
            return ("e" if t < self._startup_at + self.intersection.startup_flash_s else "g",) * n
        cycle = self._cycle
        assert cycle is not None
        pos = cycle.position(t)
        return tuple(self._group_state(cycle, pos, g.number, t) for g in self.intersection.groups)

    def _group_state(self, cycle: Cycle, pos: Position, g: int, t: float) -> str:
        ix = self.intersection
        stages = ix.stages
        if self._leaving is not None:
            end = cycle.green_end(self._leaving.stage)
            if t >= end:
                leaving = g in stages[self._leaving.stage].groups
                return "N" if leaving and t < end + ix.group(g).amber_s else "B"
        here = g in stages[pos.stage].groups
        if pos.phase is Phase.GREEN:
            if not here:
                return "B"
            return "1" if t - self._green_since(cycle, g, pos.stage) < ix.group(g).min_green_s else "3"
        nxt = g in stages[(pos.stage + 1) % len(stages)].groups
        if here and nxt:
            return "3"  # stays green into the next stage
        if here:
            return "N" if t < pos.green_end + ix.group(g).amber_s else "B"
        return "G" if nxt else "B"

    def _green_since(self, cycle: Cycle, g: int, stage: int) -> float:
        k = stage
        while k > 0 and g in self.intersection.stages[k - 1].groups:
            k -= 1
        if k == 0 and g in self.intersection.stages[-1].groups and len(self.intersection.stages) > 1:
            return -math.inf  # green since the previous cycle
        return cycle.green_start(k)
