"""The signal groups of the traffic-controller model: each group's RSMP S0001 character at a time, from
the controller's mode, functional position and running cycle (pure: the model passes its state in)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulators.traffic.plan import Cycle, Intersection, Phase, Position
from simulators.traffic.status import ControlMode, FunctionalPosition


@dataclass(slots=True)
class Leaving:
    """On the way from normal control to another functional position."""

    target: FunctionalPosition
    stage: int
    at: float  # when the target position takes effect


def leave(ix: Intersection, cycle: Cycle, target: FunctionalPosition, t: float) -> Leaving:
    """Leaving normal control for ``target`` at ``t``: after the running stage's (cut) green and amber."""
    pos = cycle.position(t)
    end = cycle.cut(pos.stage, t) if pos.phase is Phase.GREEN else pos.green_end
    amber = max(ix.group(g).amber_s for g in ix.stages[pos.stage].groups)
    return Leaving(target, pos.stage, max(t, end + amber))


def group_states(  # noqa: PLR0917  # the controller's state, as it reads in its snapshot()
    ix: Intersection,
    t: float,
    mode: ControlMode,
    position: FunctionalPosition,
    startup_at: float,
    cycle: Cycle | None,
    leaving: Leaving | None,
) -> tuple[str, ...]:
    n = len(ix.groups)
    if mode is ControlMode.FAILURE or position is FunctionalPosition.YELLOW_FLASH:
        return ("c",) * n
    if position is FunctionalPosition.DARK:
        return ("b",) * n
    if position is FunctionalPosition.ALL_RED:
        return ("h",) * n
    if mode is ControlMode.STARTUP:
        return ("e" if t < startup_at + ix.startup_flash_s else "g",) * n
    assert cycle is not None
    pos = cycle.position(t)
    return tuple(_group_state(ix, cycle, pos, g.number, t, leaving=leaving) for g in ix.groups)


def _group_state(
    ix: Intersection, cycle: Cycle, pos: Position, g: int, t: float, *, leaving: Leaving | None
) -> str:
    stages = ix.stages
    if leaving is not None:
        end = cycle.green_end(leaving.stage)
        if t >= end:
            out = g in stages[leaving.stage].groups
            return "N" if out and t < end + ix.group(g).amber_s else "B"
    here = g in stages[pos.stage].groups
    if pos.phase is Phase.GREEN:
        if not here:
            return "B"
        return "1" if t - _green_since(ix, cycle, g, pos.stage) < ix.group(g).min_green_s else "3"
    nxt = g in stages[(pos.stage + 1) % len(stages)].groups
    if here and nxt:
        return "3"  # stays green into the next stage
    if here:
        return "N" if t < pos.green_end + ix.group(g).amber_s else "B"
    return "G" if nxt else "B"


def _green_since(ix: Intersection, cycle: Cycle, g: int, stage: int) -> float:
    k = stage
    while k > 0 and g in ix.stages[k - 1].groups:
        k -= 1
    if k == 0 and g in ix.stages[-1].groups and len(ix.stages) > 1:
        return -math.inf  # green since the previous cycle
    return cycle.green_start(k)
