"""The traffic-controller model under a manual clock: timing safety (minimum greens, intergreens, no
conflicting greens, amber before red) whatever is requested, plan changes at the cycle point only,
priority within the plan's limits, functional positions, the central's watchdog, detectors."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.traffic.controller import TrafficController
from simulators.traffic.plan import Intersection, default_intersection, default_plans
from simulators.traffic.priority import PriorityState, PriorityType
from simulators.traffic.status import (
    Color,
    CommandRefused,
    ControlMode,
    FunctionalPosition,
    PlanSource,
    Refusal,
    Snapshot,
)
from tests.drivers.conftest import SteppedClock

CODE = "1234"
DT = 0.125  # exact in binary: every event of the model (whole seconds) falls on a sample
STARTUP = 5.0  # 3 s yellow flash + 2 s all red
GREEN = "123456789"


def started(clock: SteppedClock, **kw: Any) -> TrafficController:
    tlc = TrafficController(now=clock, **kw)
    clock.advance(STARTUP)
    assert tlc.snapshot().control_mode is ControlMode.CONTROL
    return tlc


@dataclass
class Timeline:
    """Signal-group states sampled every DT seconds."""

    times: list[float]
    states: list[tuple[str, ...]]

    def runs(self, group: int) -> list[tuple[float, float, bool, int]]:
        """Green runs of a group: (start, end, complete, index of the first sample after it); complete when
        seen from its start to its end."""
        out, start = [], None
        for i, (t, s) in enumerate(zip(self.times, self.states, strict=True)):
            green = s[group - 1] in GREEN
            if green and start is None:
                start = i
            if not green and start is not None:
                out.append((self.times[start], t, start > 0, i))
                start = None
        if start is not None:
            out.append((self.times[start], self.times[-1], False, len(self.times) - 1))
        return out


def record(
    tlc: TrafficController,
    clock: SteppedClock,
    seconds: float,
    act: Callable[[float], None] = lambda t: None,
    watch: Callable[[Snapshot], None] = lambda s: None,
) -> Timeline:
    tl = Timeline([], [])
    t0 = clock()
    while clock() - t0 < seconds:
        act(clock() - t0)
        snapshot = tlc.snapshot()
        watch(snapshot)
        tl.times.append(clock())
        tl.states.append(snapshot.groups)
        clock.advance(DT)
    return tl


def check_safety(ix: Intersection, tl: Timeline) -> None:
    groups = [g.number for g in ix.groups]
    conflicting = {
        (a, b) for a in groups for b in groups if a != b and not any({a, b} <= s.groups for s in ix.stages)
    }
    for states in tl.states:
        green = {g for g in groups if states[g - 1] in GREEN}
        assert not any((a, b) in conflicting for a in green for b in green), states
    last = tl.times[-1]
    for g in groups:
        spec = ix.group(g)
        for start, end, complete, i in tl.runs(g):
            if end < last:
                if complete:
                    assert end - start >= spec.min_green_s - 1e-6, (g, start, end)
                if spec.amber_s > 0:
                    assert tl.states[i][g - 1] == "N", (g, end, tl.states[i])  # amber after every green
    for a, b in conflicting:
        clear = ix.group(a).amber_s + ix.group(a).red_clear_s
        b_starts = [s for s, *_ in tl.runs(b)]
        for _, end, _, _ in tl.runs(a):
            later = [s for s in b_starts if s >= end]
            if end < last and later:
                assert later[0] - end >= clear - 1e-6, (a, b, end, later[0])


def test_startup_then_the_first_stage(clock: SteppedClock) -> None:
    tlc = TrafficController(now=clock)
    s = tlc.snapshot()
    assert (s.control_mode, s.groups, s.stage) == (ControlMode.STARTUP, ("e",) * 5, 0)
    assert s.colors == (Color.FLASHING_AMBER,) * 5
    clock.advance(3.5)
    assert tlc.snapshot().groups == ("g",) * 5
    clock.advance(1.5)
    s = tlc.snapshot()
    assert (s.control_mode, s.stage, s.cycle_counter, s.plan, s.plan_source) == (
        ControlMode.CONTROL,
        1,
        0,
        1,
        PlanSource.CALENDAR_CLOCK,
    )
    assert s.groups == ("1", "1", "B", "B", "1")
    assert s.cycle_time == 70


def test_fixed_time_cycles_respect_minimum_greens_and_intergreens(clock: SteppedClock) -> None:
    tlc = started(clock)
    tl = record(tlc, clock, 3 * 70)
    check_safety(tlc.intersection, tl)
    changes = sum(a != b for a, b in zip(tl.states, tl.states[1:], strict=False))
    assert changes > 10
    # plan 1: SG1 green 30 s; SG3 starts 6 s after SG1 ends (the pedestrians SG5 clear for 6 s)
    (s1, e1, *_), *_ = tl.runs(1)
    (s3, *_), *_ = tl.runs(3)
    assert e1 - s1 == pytest.approx(30, abs=DT)
    assert s3 - e1 == pytest.approx(6, abs=DT)


def test_a_plan_change_waits_for_the_cycle_point(clock: SteppedClock) -> None:
    tlc = started(clock)
    clock.advance(12.3)
    assert tlc.set_plan(2, True, CODE) == pytest.approx(70 - 12.3)
    seen = []
    while True:
        s = tlc.snapshot()
        seen.append((s.plan, s.plan_source, s.cycle_time, s.cycle_counter))
        if s.plan == 2:
            break
        clock.advance(DT)
    assert {x[:3] for x in seen[:-1]} == {(1, PlanSource.CALENDAR_CLOCK, 70)}
    assert seen[-1] == (2, PlanSource.FORCED, 90, 0)  # at the cycle point, not a moment before
    assert tlc.snapshot().stage == 1
    # back to the timetable: again at the next cycle point (90 s later)
    assert tlc.set_plan(0, False, CODE) == pytest.approx(90, abs=DT)
    clock.advance(89.8)
    assert tlc.snapshot().plan == 2
    clock.advance(0.3)
    assert (tlc.snapshot().plan, tlc.snapshot().plan_source) == (1, PlanSource.CALENDAR_CLOCK)


def test_commands_are_refused_with_a_bad_code_or_an_unknown_plan(clock: SteppedClock) -> None:
    tlc = started(clock)
    with pytest.raises(CommandRefused) as bad:
        tlc.set_plan(2, True, "0000")
    assert bad.value.refusal is Refusal.BAD_SECURITY_CODE
    with pytest.raises(CommandRefused) as unknown:
        tlc.set_plan(9, True, CODE)
    assert unknown.value.refusal is Refusal.INVALID_ARGUMENT
    with pytest.raises(CommandRefused):
        tlc.set_functional_position(FunctionalPosition.DARK, 2000, CODE)
    assert tlc.snapshot().plan == 1


def test_priority_extends_a_green_within_the_plan_limit_and_keeps_the_cycle(clock: SteppedClock) -> None:
    tlc = started(clock)  # stage 1 (SG1, SG2, SG5) green until 30 s into the cycle
    clock.advance(20)
    state = tlc.request_priority("bus-1", 1, PriorityType.NEW, level=5, eta_s=15, vehicle_type=0)
    assert state is PriorityState.ACTIVATED
    req = tlc.request("bus-1")
    assert req.granted_s == pytest.approx(7.0)  # 20 + 15 + 2 (to pass) - 30
    tl = record(tlc, clock, 60)
    (_, end, *_), *_ = tl.runs(1)
    assert end - (clock() - 60) == pytest.approx(17, abs=DT)  # green ended 37 s into the cycle
    check_safety(tlc.intersection, tl)
    # the cycle point did not move: plan 1 still cycles every 70 s
    assert tlc.snapshot().cycle_counter == pytest.approx(10, abs=1)


def test_an_extension_never_exceeds_the_limit(clock: SteppedClock) -> None:
    tlc = started(clock)
    clock.advance(25)
    tlc.request_priority("bus-1", 2, PriorityType.NEW, level=5, eta_s=100, vehicle_type=0)
    assert tlc.request("bus-1").granted_s == pytest.approx(10.0)  # plan 1: max_extension_s


def test_an_early_green_never_cuts_a_minimum_green(clock: SteppedClock) -> None:
    tlc = started(clock)
    clock.advance(1.0)  # stage 1 has run 1 s of its 8 s minimum
    state = tlc.request_priority("bus-7", 3, PriorityType.NEW, level=5, eta_s=0, vehicle_type=0)
    assert state is PriorityState.ACTIVATED
    assert tlc.request("bus-7").granted_s == pytest.approx(22.0)  # SG3 starts 22 s earlier
    tl = record(tlc, clock, 70)
    (s1, e1, *_), *_ = tl.runs(1)
    assert e1 - (s1 - 1.0) == pytest.approx(8.0, abs=DT)  # exactly the minimum, not less
    check_safety(tlc.intersection, tl)


def test_priority_lifecycle_queue_cooldown_cancel_timeout(clock: SteppedClock) -> None:
    tlc = started(clock, cooldown_s=20.0, priority_timeout_s=30.0, linger_s=120.0)
    clock.advance(10)
    assert (
        tlc.request_priority("a", 1, PriorityType.NEW, level=3, eta_s=5, vehicle_type=0)
        is PriorityState.ACTIVATED
    )
    assert (
        tlc.request_priority("b", 4, PriorityType.NEW, level=3, eta_s=30, vehicle_type=0)
        is PriorityState.QUEUED
    )
    assert tlc.request_priority("a", 1, PriorityType.CANCEL, level=0, eta_s=0, vehicle_type=0) is (
        PriorityState.COMPLETED
    )
    assert tlc.request("b").state is PriorityState.ACTIVATED  # next in line
    assert (
        tlc.request_priority("c", 1, PriorityType.NEW, level=3, eta_s=60, vehicle_type=0)
        is PriorityState.QUEUED
    )
    clock.advance(65)  # b never cancelled: times out 30 s after its bus was due (15 + 30 + 30 s)
    assert tlc.request("b").state is PriorityState.TIMEOUT
    slots = tlc.snapshot().priority
    assert [(p.request_id, p.state) for p in slots] == [
        ("a", PriorityState.COMPLETED),
        ("b", PriorityState.TIMEOUT),
        ("c", tlc.request("c").state),
    ]
    with pytest.raises(CommandRefused):
        tlc.request_priority("zz", 1, PriorityType.CANCEL, level=0, eta_s=0, vehicle_type=0)
    with pytest.raises(CommandRefused):
        tlc.request_priority("x", 9, PriorityType.NEW, level=0, eta_s=0, vehicle_type=0)
    clock.advance(300)  # finished requests are listed for a while, then dropped
    assert [p.request_id for p in tlc.snapshot().priority] == []


def test_a_request_in_cooldown_waits(clock: SteppedClock) -> None:
    tlc = started(clock, cooldown_s=20.0)
    clock.advance(10)
    tlc.request_priority("a", 1, PriorityType.NEW, level=3, eta_s=5, vehicle_type=0)
    tlc.request_priority("a", 1, PriorityType.CANCEL, level=3, eta_s=0, vehicle_type=0)
    assert (
        tlc.request_priority("b", 1, PriorityType.NEW, level=3, eta_s=25, vehicle_type=0)
        is PriorityState.COOLDOWN
    )
    clock.advance(20.5)
    assert tlc.request("b").state in (PriorityState.ACTIVATED, PriorityState.QUEUED)


def test_yellow_flash_after_the_minimum_green_and_an_amber_then_back_through_startup(
    clock: SteppedClock,
) -> None:
    tlc = started(clock)
    clock.advance(2.0)
    wait = tlc.set_functional_position(FunctionalPosition.YELLOW_FLASH, 1, CODE)
    assert wait == pytest.approx(6.0 + 3.0)  # the rest of SG1's 8 s minimum, then 3 s amber
    assert tlc.request_priority("late", 3, PriorityType.NEW, level=1, eta_s=10, vehicle_type=0) is (
        PriorityState.REJECTED
    )
    clock.advance(5.9)
    assert tlc.snapshot().groups[0] in GREEN
    clock.advance(0.2)
    assert tlc.snapshot().groups == ("N", "N", "B", "B", "B")
    clock.advance(3.0)
    s = tlc.snapshot()
    assert (s.functional_position, s.groups, s.stage) == (FunctionalPosition.YELLOW_FLASH, ("c",) * 5, 0)
    clock.advance(60 - 9.1 + 0.5)  # 1 min after the command: back to normal through the start-up
    assert tlc.snapshot().control_mode is ControlMode.STARTUP
    clock.advance(STARTUP)
    s = tlc.snapshot()
    assert (s.control_mode, s.functional_position, s.stage) == (
        ControlMode.CONTROL,
        FunctionalPosition.NORMAL,
        1,
    )


def test_a_safety_error_means_failure_mode_until_cleared_and_restarted(clock: SteppedClock) -> None:
    tlc = started(clock)
    tlc.set_alarm("A0006", True)
    s = tlc.snapshot()
    assert (s.control_mode, s.groups, s.alarms["A0006"]) == (ControlMode.FAILURE, ("c",) * 5, True)
    with pytest.raises(CommandRefused) as refused:
        tlc.set_functional_position(FunctionalPosition.NORMAL, 0, CODE)
    assert refused.value.refusal is Refusal.INVALID_STATE
    tlc.set_alarm("A0006", False)
    assert tlc.set_functional_position(FunctionalPosition.NORMAL, 0, CODE) == pytest.approx(STARTUP)
    clock.advance(STARTUP)
    assert tlc.snapshot().control_mode is ControlMode.CONTROL


def test_the_central_watchdog_raises_a0007_and_drops_the_commanded_plan(clock: SteppedClock) -> None:
    tlc = started(clock, watchdog_s=120.0)
    tlc.heartbeat()
    tlc.set_plan(3, True, CODE)
    clock.advance(100)
    tlc.heartbeat()
    assert tlc.snapshot().alarms["A0007"] is False
    assert tlc.snapshot().plan == 3
    clock.advance(121)
    s = tlc.snapshot()
    assert s.alarms["A0007"] is True
    clock.advance(60)  # the timetable's plan from the next cycle point on
    assert (tlc.snapshot().plan, tlc.snapshot().plan_source) == (1, PlanSource.CALENDAR_CLOCK)
    tlc.heartbeat()
    assert tlc.snapshot().alarms["A0007"] is False


def test_detectors_count_and_occupy_per_period(clock: SteppedClock) -> None:
    tlc = started(clock, detector_period_s=60.0, seed=3)
    counts, occupancies, actives = [], [], 0
    for _ in range(600):
        clock.advance(1.0)
        d1 = tlc.snapshot().detectors[0]
        actives += d1.active
        counts.append(d1.count)
        occupancies.append(d1.occupancy)
    periods = counts[59::60]
    assert 7 <= sum(periods) / len(periods) <= 13  # 600 veh/h: 10 per minute
    assert all(0 <= o <= 100 for o in occupancies)
    assert actives > 0
    one, two = SteppedClock(), SteppedClock()
    a, b = TrafficController(now=one, seed=3), TrafficController(now=two, seed=3)
    for _ in range(100):
        one.advance(7.0)
        two.advance(7.0)
        assert a.snapshot().detectors == b.snapshot().detectors  # the same seed, the same traffic


_actions = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=200),
        st.sampled_from(["bus", "cancel", "plan", "flash", "normal"]),
        st.integers(min_value=1, max_value=5),
        st.integers(min_value=0, max_value=60),
    ),
    max_size=8,
)


@settings(max_examples=25, deadline=None)
@given(_actions)
def test_no_request_ever_breaks_the_timing_safety(actions: list[tuple[float, str, int, int]]) -> None:
    clock = SteppedClock()
    tlc = started(clock, plans=default_plans(), intersection=default_intersection())
    pending = sorted(actions)
    opened: list[str] = []

    def act(t: float) -> None:
        while pending and pending[0][0] <= t:
            _, kind, group, eta = pending.pop(0)
            if kind == "bus":
                rid = f"r{len(opened)}"
                opened.append(rid)
                tlc.request_priority(rid, group, PriorityType.NEW, level=group, eta_s=eta, vehicle_type=0)
            elif kind == "cancel" and opened:
                with contextlib.suppress(CommandRefused):  # it may have finished already
                    tlc.request_priority(opened[-1], 0, PriorityType.CANCEL, level=0, eta_s=0, vehicle_type=0)
            elif kind == "plan":
                tlc.set_plan(1 + group % 3, group % 2 == 0, CODE)
            elif kind == "flash":
                tlc.set_functional_position(FunctionalPosition.YELLOW_FLASH, 1, CODE)
            elif kind == "normal":
                tlc.set_functional_position(FunctionalPosition.NORMAL, 0, CODE)

    plans: list[int] = []

    def watch(s: Snapshot) -> None:
        if plans and plans[-1] != s.plan:
            assert s.cycle_counter == 0 or s.stage == 0, "a plan changed away from the cycle point"
        plans.append(s.plan)

    tl = record(tlc, clock, 220, act, watch)
    check_safety(tlc.intersection, tl)
