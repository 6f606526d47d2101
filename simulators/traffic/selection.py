"""Which signal plan the traffic-controller model runs, and why: its own timetable's, or one the central
forced (RSMP M0002). A change asked for while the controller runs its cycle waits for the cycle point;
the watchdog expiring sends a forced plan back to the timetable."""

from __future__ import annotations

from collections.abc import Mapping

from simulators.traffic.plan import Plan
from simulators.traffic.status import CommandRefused, PlanSource, Refusal

Target = tuple[int, PlanSource]


class PlanSelection:
    def __init__(self, plans: Mapping[int, Plan], timetable_plan: int) -> None:
        self.plans = plans
        self.timetable_plan = timetable_plan
        self.plan = plans[timetable_plan]
        self.source = PlanSource.CALENDAR_CLOCK
        self.pending: Target | None = None  # applied at the next cycle point

    def target(self, plan: int, use_commanded: bool) -> Target:
        """The plan a command asks for: ``plan`` forced, or (``use_commanded`` false) the timetable's."""
        if not use_commanded:
            return (self.timetable_plan, PlanSource.CALENDAR_CLOCK)
        if plan not in self.plans:
            raise CommandRefused(Refusal.INVALID_ARGUMENT, f"no plan {plan} (plans: {sorted(self.plans)})")
        return (plan, PlanSource.FORCED)

    def select(self, target: Target, *, cycling: bool) -> bool:
        """Ask for ``target``; True if it waits for the cycle point (``cycling``: a cycle is running)."""
        if target == (self.plan.number, self.source):
            self.pending = None
            return False
        if cycling:
            self.pending = target
            return True
        self.apply(target)
        return False

    def watchdog_expired(self, *, cycling: bool) -> None:
        forced = self.source is PlanSource.FORCED or (self.pending and self.pending[1] is PlanSource.FORCED)
        if forced:
            target = (self.timetable_plan, PlanSource.CALENDAR_CLOCK)
            if cycling:
                self.pending = target
            else:
                self.apply(target)

    def at_cycle_point(self) -> Plan:
        """The plan of the cycle starting now (a pending change applied)."""
        if self.pending is not None:
            self.apply(self.pending)
        return self.plan

    def apply(self, target: Target) -> None:
        self.plan = self.plans[target[0]]
        self.source = target[1]
        self.pending = None
