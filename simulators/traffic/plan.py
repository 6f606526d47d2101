"""The timing of a signalised intersection: signal groups, stages, fixed-time plans, and one cycle's
schedule with the only changes a priority request may make to it.

A plan gives each stage a green time; between two stages runs the intergreen (amber, then red clearance
of the groups that lose green). A cycle starts with the green of the first stage (the cycle point) and
lasts ``cycle_time`` seconds. Within a cycle, :class:`Cycle` can move green time from one stage to
another — :meth:`Cycle.extend` (keep a green longer) and :meth:`Cycle.advance` (bring a later stage
forward) — but never below a stage's minimum green and never touching an intergreen, so the cycle time
and every safety time stay what the plan says.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class SignalGroup:
    number: int  # 1-based, SG<n>
    min_green_s: float = 6.0
    amber_s: float = 3.0
    red_clear_s: float = 2.0  # all-red after the amber, before a conflicting group may start


@dataclass(frozen=True, slots=True)
class Stage:
    number: int  # 1-based
    groups: frozenset[int]  # signal-group numbers green in this stage


@dataclass(frozen=True, slots=True)
class Plan:
    number: int  # 1..255
    greens: tuple[float, ...]  # green time of each stage, in stage order
    max_extension_s: float = 10.0  # how long a priority request may keep one stage green, per cycle


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    number: int  # 1-based, D<n>
    signal_group: int
    flow_veh_h: float = 400.0  # mean arrival rate (Poisson)
    occupancy_s: float = 0.5  # how long one vehicle covers the loop


@dataclass(frozen=True, slots=True)
class Intersection:
    groups: tuple[SignalGroup, ...]
    stages: tuple[Stage, ...]
    detectors: tuple[DetectorSpec, ...] = ()
    startup_flash_s: float = 3.0  # RSMP start-up interval 1 (yellow flash), then ...
    startup_red_s: float = 2.0  # ... interval 3 (all red), then the first stage
    # per stage index, computed once: its minimum green, and the amber and intergreen after it
    _min_greens: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _ambers: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _intergreens: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        numbers = [g.number for g in self.groups]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"signal groups must be numbered 1..n in order, got {numbers}")
        if not self.stages:
            raise ValueError("an intersection needs at least one stage")
        for s in self.stages:
            if not s.groups or not s.groups <= set(numbers):
                raise ValueError(f"stage {s.number}: groups {sorted(s.groups)} are not all signal groups")
        for d in self.detectors:
            if d.signal_group not in numbers:
                raise ValueError(f"detector {d.number}: no signal group {d.signal_group}")
        n = len(self.stages)
        # the groups that lose green when stage k hands over to the next one
        leaving = [self.stages[k].groups - self.stages[(k + 1) % n].groups for k in range(n)]
        g = self.group
        min_greens = tuple(max(g(x).min_green_s for x in self.stages[k].groups) for k in range(n))
        ambers = tuple(max((g(x).amber_s for x in leaving[k]), default=0.0) for k in range(n))
        clears = tuple(
            max((g(x).amber_s + g(x).red_clear_s for x in leaving[k]), default=0.0) for k in range(n)
        )
        object.__setattr__(self, "_min_greens", min_greens)
        object.__setattr__(self, "_ambers", ambers)
        object.__setattr__(self, "_intergreens", clears)

    def group(self, number: int) -> SignalGroup:
        return self.groups[number - 1]

    def min_green(self, stage: int) -> float:
        """Minimum green of stage index ``stage`` (0-based): the longest of its groups'."""
        return self._min_greens[stage]

    def intergreen(self, stage: int) -> float:
        """Seconds between the end of stage index ``stage``'s green and the start of the next stage's:
        the longest amber + red clearance of the groups that lose green there."""
        return self._intergreens[stage]

    def amber(self, stage: int) -> float:
        return self._ambers[stage]

    def cycle_time(self, plan: Plan) -> float:
        return sum(plan.greens) + sum(self.intergreen(k) for k in range(len(self.stages)))

    def check(self, plan: Plan) -> None:
        """Raise ValueError when ``plan`` does not fit this intersection."""
        if len(plan.greens) != len(self.stages):
            raise ValueError(
                f"plan {plan.number}: {len(plan.greens)} green times for {len(self.stages)} stages"
            )
        for k, green in enumerate(plan.greens):
            if green < self.min_green(k):
                low = self.min_green(k)
                raise ValueError(f"plan {plan.number}: stage {k + 1} green {green} s is below minimum {low}")
        if not 1 <= plan.number <= 255:
            raise ValueError(f"plan number {plan.number} is outside 1..255")


class Phase(enum.Enum):
    GREEN = "green"  # the stage's groups are green
    AMBER = "amber"  # the leaving groups show amber
    CLEARANCE = "clearance"  # the leaving groups are red, the next stage's new groups wait


@dataclass(frozen=True, slots=True)
class Position:
    stage: int  # index of the stage whose green is running or has just ended
    phase: Phase
    since: float  # when this stage's green started
    green_end: float


@dataclass(slots=True)
class Cycle:
    """One running cycle of a plan: when it started and the green time each stage gets in it."""

    intersection: Intersection
    plan: Plan
    start: float
    greens: list[float] = field(default_factory=list)
    extended: float = 0.0  # priority extension granted in this cycle

    def __post_init__(self) -> None:
        if not self.greens:
            self.greens = list(self.plan.greens)

    @property
    def end(self) -> float:
        return self.start + self.intersection.cycle_time(self.plan)

    def green_start(self, stage: int) -> float:
        t = self.start
        for k in range(stage):
            t += self.greens[k] + self.intersection.intergreen(k)
        return t

    def green_end(self, stage: int) -> float:
        return self.green_start(stage) + self.greens[stage]

    def position(self, t: float) -> Position:
        ix = self.intersection
        for k in range(len(self.greens)):
            start, end = self.green_start(k), self.green_end(k)
            if t < end - EPSILON:
                return Position(k, Phase.GREEN, start, end)
            if t < end + ix.amber(k) - EPSILON:
                return Position(k, Phase.AMBER, start, end)
            if t < end + ix.intergreen(k) - EPSILON:
                return Position(k, Phase.CLEARANCE, start, end)
        last = len(self.greens) - 1
        return Position(last, Phase.CLEARANCE, self.green_start(last), self.green_end(last))

    def _earliest_end(self, stage: int, t: float) -> float:
        """The earliest a stage's green may end: after its minimum green, and not in the past."""
        return max(t, self.green_start(stage) + self.intersection.min_green(stage))

    def _slack(self, stage: int) -> float:
        return self.greens[stage] - self.intersection.min_green(stage)

    def extend(self, stage: int, t: float, wanted: float) -> float:
        """Keep ``stage`` (green at ``t``) green up to ``wanted`` s longer, taking the time from the later
        stages of this cycle (none below its minimum green), within the plan's extension limit.
        Returns the seconds granted (possibly 0)."""
        later = range(stage + 1, len(self.greens))
        room = self.plan.max_extension_s - self.extended
        granted = max(0.0, min(wanted, room, sum(self._slack(k) for k in later)))
        need = granted
        for k in later:
            take = min(need, self._slack(k))
            self.greens[k] -= take
            need -= take
        self.greens[stage] += granted
        self.extended += granted
        return granted

    def advance(self, target: int, t: float) -> float:
        """Bring the green of ``target`` (a later stage of this cycle) forward: end the running green and
        the stages before ``target`` as early as their minimum greens allow, and give that time to
        ``target``. Returns how many seconds earlier ``target`` starts."""
        saved = 0.0
        for k in range(len(self.greens)):
            if k >= target:
                break
            start = self.green_start(k)
            end = start + self.greens[k]
            if end <= t + EPSILON:
                continue  # already over
            cut = end - self._earliest_end(k, t)
            if cut > EPSILON:
                self.greens[k] -= cut
                saved += cut
        self.greens[target] += saved
        return saved

    def cut(self, stage: int, t: float) -> float:
        """End the running green of ``stage`` as soon as its minimum green allows (the cycle is being
        left for a functional position); returns when it ends. The freed time goes to the next stage,
        or to the final clearance, so that the cycle stays whole if the change is called off."""
        freed = max(0.0, self.green_end(stage) - self._earliest_end(stage, t))
        self.greens[stage] -= freed
        if stage + 1 < len(self.greens):
            self.greens[stage + 1] += freed
        return self.green_end(stage)


def default_intersection() -> Intersection:
    """A crossroads with a bus lane: main road (SG1, SG2), bus lane (SG3), side road (SG4), pedestrians
    crossing the side road with the main road (SG5); three stages; one detector per vehicle group."""
    groups = (
        SignalGroup(1, min_green_s=8.0),
        SignalGroup(2, min_green_s=8.0),
        SignalGroup(3, min_green_s=5.0),
        SignalGroup(4, min_green_s=6.0),
        SignalGroup(5, min_green_s=6.0, amber_s=0.0, red_clear_s=6.0),  # pedestrians: no amber
    )
    stages = (
        Stage(1, frozenset({1, 2, 5})),
        Stage(2, frozenset({3})),
        Stage(3, frozenset({4})),
    )
    detectors = (
        DetectorSpec(1, 1, flow_veh_h=600.0),
        DetectorSpec(2, 2, flow_veh_h=500.0),
        DetectorSpec(3, 3, flow_veh_h=30.0),
        DetectorSpec(4, 4, flow_veh_h=250.0),
    )
    return Intersection(groups, stages, detectors)


def default_plans() -> Mapping[int, Plan]:
    """Day (plan 1, 70 s), peak (plan 2, 90 s) and night (plan 3, 48 s) for :func:`default_intersection`."""
    return {
        1: Plan(1, (30.0, 8.0, 16.0)),
        2: Plan(2, (44.0, 10.0, 20.0)),
        3: Plan(3, (16.0, 6.0, 10.0), max_extension_s=6.0),
    }
