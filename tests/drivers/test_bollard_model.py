"""simulators.bollard.site: the site's logic and interlocks on a clock the test steps (devices.md §3.3, §5.3).

Default settings: 1 s pre-warning, rise 4 s, lower 3 s, auto-rise 30 s, 3 inversions, fail-down.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.bollard.codes import (
    Command,
    FaultCode,
    LimitFault,
    Logic,
    PowerFail,
    Result,
    SiteSettings,
    SiteState,
)
from simulators.bollard.site import BollardSite
from tests.drivers.conftest import SteppedClock

RISE = 1.0 + 4.0  # pre-warning + travel


def site(clock: SteppedClock, logic: Logic = Logic.AUTOMATIC, *, up: bool = True, **kw: Any) -> BollardSite:
    settings = SiteSettings(**kw)
    return BollardSite(2, clock, settings, logic, up=up)


def lowered(clock: SteppedClock, logic: Logic = Logic.AUTOMATIC, **kw: Any) -> BollardSite:
    """A site that was lowered by command and has just reached the bottom."""
    s = site(clock, logic, **kw)
    assert s.command(Command.LOWER) is Result.OK
    clock.advance(3.0)
    assert s.state() is SiteState.DOWN
    return s


def test_lower_then_raise_travel_and_count(clock: SteppedClock) -> None:
    s = site(clock, Logic.SEMI_AUTOMATIC)
    r = s.reading()
    assert (r.state, r.bollards[0].top_limit, r.bollards[0].bottom_limit) == (SiteState.UP, True, False)
    assert s.command(Command.LOWER) is Result.OK
    clock.advance(1.5)
    r = s.reading()
    assert r.state is SiteState.LOWERING
    assert (r.flashing, r.light_green, r.bollards[0].top_limit, r.bollards[0].bottom_limit) == (
        True,
        False,
        False,
        False,
    )
    clock.advance(1.5)
    r = s.reading()
    assert (r.state, r.light_green, r.flashing, r.last_lower_ms) == (SiteState.DOWN, True, False, 3000)
    assert r.bollards[1].bottom_limit
    assert s.command(Command.RAISE) is Result.OK
    clock.advance(0.5)
    r = s.reading()
    assert (r.state, r.flashing, r.bollards[0].bottom_limit) == (SiteState.RISING, True, True)  # pre-warning
    assert r.motor_a == 0
    clock.advance(2.0)
    r = s.reading()
    assert (r.motor_a, r.hydraulic_bar) == (8.5, 45.0)
    clock.advance(RISE - 2.5)
    r = s.reading()
    assert (r.state, r.cycles, r.cycles_to_service, r.last_rise_ms) == (SiteState.UP, 1, 9999, 4000)
    assert r.bollards[0].rise_limit_pressure_switch
    assert r.oil_c > 20.0  # the pump ran for 4 s


def test_raise_is_refused_while_a_loop_or_the_pressure_switch_is_active(clock: SteppedClock) -> None:
    s = lowered(clock, Logic.SEMI_AUTOMATIC)
    s.set_loop(1, True)
    assert s.command(Command.RAISE) is Result.LOOP_OCCUPIED
    s.set_loop(1, False)
    s.set_bollard(1, pressure=True)
    assert s.command(Command.RAISE) is Result.PRESSURE_SWITCH
    clock.advance(60)
    assert s.state() is SiteState.DOWN  # nothing moved
    s.set_bollard(1, pressure=False)
    assert s.command(Command.RAISE) is Result.OK
    assert s.state() is SiteState.RISING


@pytest.mark.parametrize("trip", ["pressure", "loop"])
def test_a_trip_during_the_rise_reverses_to_down(clock: SteppedClock, trip: str) -> None:
    s = lowered(clock, Logic.SEMI_AUTOMATIC)
    s.command(Command.RAISE)
    clock.advance(1.0 + 2.0)  # half-way up
    if trip == "pressure":
        s.set_bollard(0, pressure=True)
    else:
        s.set_loop(0, True)
    r = s.reading()
    assert (r.state, r.inversions) == (SiteState.LOWERING, 1)
    clock.advance(1.5)  # half of the 3 s lowering, from half-way
    r = s.reading()
    assert (r.state, r.fault, r.cycles) == (SiteState.DOWN, FaultCode.NONE, 0)


def test_after_three_inversions_it_stays_down_until_a_new_raise(clock: SteppedClock) -> None:
    s = lowered(clock, Logic.AUTOMATIC)
    s.command(Command.RAISE)
    for n in (1, 2, 3):
        clock.advance(1.5)  # moving up
        s.set_bollard(0, pressure=True)  # weight on the head: reverse
        clock.advance(1.0)
        s.set_bollard(0, pressure=False)
        assert s.reading().inversions == n
        if n < 3:
            clock.advance(30)  # automatic logic: tries again 30 s after reaching the bottom
            assert s.state() is SiteState.RISING
    r = s.reading()
    assert (r.state, r.fault) == (SiteState.DOWN, FaultCode.INVERSION_LIMIT)
    clock.advance(600)
    assert s.state() is SiteState.DOWN  # no more automatic rises
    assert s.command(Command.RAISE) is Result.OK  # a new command is accepted and clears it
    clock.advance(RISE)
    r = s.reading()
    assert (r.state, r.fault, r.inversions) == (SiteState.UP, FaultCode.NONE, 0)


def test_emergency_lower_preempts_and_latches_until_reset(clock: SteppedClock) -> None:
    s = lowered(clock, Logic.SEMI_AUTOMATIC)
    s.command(Command.RAISE)
    clock.advance(2.0)
    assert s.command(Command.EMERGENCY_LOWER) is Result.OK
    r = s.reading()
    assert (r.state, r.emergency, r.flashing) == (SiteState.EMERGENCY_DOWN, True, True)
    clock.advance(3.0)
    r = s.reading()
    assert (r.state, r.light_green, r.bollards[0].bottom_limit) == (SiteState.EMERGENCY_DOWN, True, True)
    assert s.command(Command.RAISE) is Result.EMERGENCY_ACTIVE
    assert s.command(Command.HOLD_DOWN, 60) is Result.EMERGENCY_ACTIVE
    assert s.command(Command.LOWER) is Result.OK  # already down: the safe direction is never refused
    s.set_site(logic=Logic.PERMANENT_UP)
    clock.advance(3600)
    assert s.state() is SiteState.EMERGENCY_DOWN  # latched
    assert s.command(Command.RESET_FAULT) is Result.OK
    assert s.reading().emergency is False
    assert s.state() is SiteState.RISING  # permanent-up logic takes over again


def test_a_fault_refuses_a_raise_but_still_lowers_if_the_valve_can(clock: SteppedClock) -> None:
    thermal, stuck_valve = site(clock, Logic.SEMI_AUTOMATIC), site(clock, Logic.SEMI_AUTOMATIC)
    thermal.set_bollard(0, thermal=True)
    stuck_valve.set_bollard(1, solenoid=True)
    assert (thermal.state(), stuck_valve.state()) == (SiteState.FAULT, SiteState.FAULT)
    assert stuck_valve.reading().fault is FaultCode.HYDRAULIC
    assert thermal.command(Command.RAISE) is Result.FAULT
    assert thermal.command(Command.LOWER) is Result.OK
    assert stuck_valve.command(Command.LOWER) is Result.FAULT
    clock.advance(3.0)
    assert thermal.reading().bollards[0].bottom_limit
    assert stuck_valve.reading().bollards[0].top_limit


def test_emergency_lower_preempts_a_fault(clock: SteppedClock) -> None:
    s = site(clock, Logic.PERMANENT_UP)
    s.set_bollard(0, thermal=True)
    assert s.command(Command.EMERGENCY_LOWER) is Result.OK
    clock.advance(3.0)
    assert s.state() is SiteState.EMERGENCY_DOWN
    assert s.command(Command.RESET_FAULT) is Result.FAULT  # the thermal trip is still active
    s.set_bollard(0, thermal=False)
    assert s.command(Command.RESET_FAULT) is Result.OK
    r = s.reading()
    assert (r.fault, r.emergency, r.state) == (FaultCode.NONE, False, SiteState.RISING)


def test_automatic_logic_rises_once_the_loops_clear(clock: SteppedClock) -> None:
    s = lowered(clock, Logic.AUTOMATIC)
    clock.advance(5)
    s.set_loop(0, True)  # the vehicle drives in
    clock.advance(2)
    s.set_loop(1, True)
    s.set_loop(0, False)
    clock.advance(40)  # parked on loop 2 beyond the 30 s: the rise waits for it
    assert s.state() is SiteState.DOWN
    s.set_loop(1, False)
    assert s.state() is SiteState.RISING
    clock.advance(RISE)
    assert s.state() is SiteState.UP


def test_automatic_logic_rises_after_30_s_without_a_transit(clock: SteppedClock) -> None:
    s = lowered(clock, Logic.AUTOMATIC)
    clock.advance(29.9)
    assert s.state() is SiteState.DOWN
    clock.advance(0.1)
    assert s.state() is SiteState.RISING
    clock.advance(RISE)
    assert s.reading().cycles == 1


def test_semi_automatic_and_hold_down_stay_down(clock: SteppedClock) -> None:
    semi = lowered(clock, Logic.SEMI_AUTOMATIC)
    auto = lowered(clock, Logic.AUTOMATIC)
    assert auto.command(Command.HOLD_DOWN, 120) is Result.OK
    clock.advance(119)
    assert (semi.state(), auto.state()) == (SiteState.DOWN, SiteState.DOWN)
    clock.advance(1 + 30)  # the hold ends, then the automatic logic's 30 s
    assert (semi.state(), auto.state()) == (SiteState.DOWN, SiteState.RISING)


def test_release_hold_rearms_the_automatic_logic(clock: SteppedClock) -> None:
    s = lowered(clock, Logic.AUTOMATIC)
    s.command(Command.HOLD_DOWN)  # 0: until released
    clock.advance(3600)
    assert s.state() is SiteState.DOWN
    assert s.command(Command.RELEASE_HOLD) is Result.OK
    clock.advance(30)
    assert s.state() is SiteState.RISING


def test_permanent_logics(clock: SteppedClock) -> None:
    s = site(clock, Logic.PERMANENT_DOWN)
    clock.advance(3.0)
    assert s.state() is SiteState.DOWN
    assert s.command(Command.RAISE) is Result.LOCAL_CONTROL
    clock.advance(3600)
    assert s.state() is SiteState.DOWN
    s.set_site(logic=Logic.PERMANENT_UP)
    clock.advance(RISE)
    assert s.state() is SiteState.UP
    assert s.command(Command.LOWER) is Result.LOCAL_CONTROL


@pytest.mark.parametrize(
    ("power_fail", "state"), [(PowerFail.DOWN, SiteState.DOWN), (PowerFail.UP, SiteState.UP)]
)
def test_power_failure(clock: SteppedClock, power_fail: PowerFail, state: SiteState) -> None:
    s = site(clock, Logic.SEMI_AUTOMATIC, power_fail=power_fail)
    s.set_site(mains_failure=True)
    r = s.reading()
    assert (r.state, r.fault, r.mains_failure) == (SiteState.FAULT, FaultCode.POWER, True)
    assert s.command(Command.RAISE) is Result.FAULT
    clock.advance(3.0)
    top, bottom = state is SiteState.UP, state is SiteState.DOWN
    r = s.reading()
    assert (r.bollards[0].top_limit, r.bollards[0].bottom_limit) == (top, bottom)
    s.set_site(mains_failure=False)  # mains back: the power fault clears by itself
    assert (s.state(), s.reading().fault) == (state, FaultCode.NONE)


def test_thermal_trip_during_the_rise_stops_the_pump(clock: SteppedClock) -> None:
    s = lowered(clock, Logic.SEMI_AUTOMATIC)
    s.command(Command.RAISE)
    clock.advance(2.0)
    s.set_bollard(1, thermal=True)
    r = s.reading()
    assert (r.state, r.fault, r.motor_a, r.bollards[1].thermal_trip) == (
        SiteState.FAULT,
        FaultCode.THERMAL,
        0.4,
        True,
    )
    clock.advance(3.0)
    assert s.reading().bollards[0].bottom_limit  # the valve and gravity brought it down
    assert s.command(Command.RAISE) is Result.FAULT


def test_jammed_drive_times_out(clock: SteppedClock) -> None:
    s = lowered(clock, Logic.SEMI_AUTOMATIC)
    s.set_site(jammed=True)
    s.command(Command.RAISE)
    clock.advance(1.0 + 2.0)
    r = s.reading()
    assert (r.state, r.hydraulic_bar, r.motor_a) == (SiteState.RISING, 160.0, 14.0)  # stalled
    clock.advance(8.0)  # 10 s of travel
    r = s.reading()
    assert (r.state, r.fault, r.motor_a) == (SiteState.FAULT, FaultCode.RISE_TIMEOUT, 0.0)
    s.set_site(jammed=False)
    assert s.command(Command.RESET_FAULT) is Result.OK
    clock.advance(3.0)
    assert s.state() is SiteState.DOWN


def test_limit_switch_stuck_is_a_fault_at_rest(clock: SteppedClock) -> None:
    s = site(clock, Logic.SEMI_AUTOMATIC)
    s.set_bollard(1, limit_fault=LimitFault.BOTTOM_STUCK)
    r = s.reading()
    assert (r.state, r.fault) == (SiteState.FAULT, FaultCode.LIMIT_SWITCH)
    assert (r.bollards[1].top_limit, r.bollards[1].bottom_limit) == (True, True)
    assert s.command(Command.RESET_FAULT) is Result.FAULT
    s.set_bollard(1, limit_fault=LimitFault.NONE)
    assert s.command(Command.RESET_FAULT) is Result.OK
    assert s.state() is SiteState.UP


def test_maintenance_and_manual_release_lower_and_refuse_commands(clock: SteppedClock) -> None:
    s = site(clock, Logic.AUTOMATIC)
    s.set_bollard(0, manual_release=True)
    assert s.state() is SiteState.MAINTENANCE
    assert s.command(Command.RAISE) is Result.LOCAL_CONTROL
    clock.advance(3600)
    r = s.reading()
    assert (r.state, r.bollards[0].bottom_limit, r.bollards[0].manual_release) == (
        SiteState.MAINTENANCE,
        True,
        True,
    )
    s.set_bollard(0, manual_release=False)
    assert s.state() is SiteState.DOWN  # the automatic logic starts its 30 s again
    clock.advance(30)
    assert s.state() is SiteState.RISING


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match=r"rise_s must be 3\.\.6 s"):
        SiteSettings(rise_s=2.0)
    with pytest.raises(ValueError, match="max_inversions"):
        SiteSettings(max_inversions=0)
    with pytest.raises(ValueError, match=r"1\.\.3 bollards"):
        BollardSite(4)


# --- invariants over random histories -------------------------------------------------------------

Step = tuple[str, int, int]
BOLLARD = st.integers(0, 1)
STEPS = st.one_of(
    st.tuples(st.just("wait"), st.integers(0, 400), st.just(0)),  # tenths of a second
    st.tuples(st.just("loop"), st.integers(0, 1), st.integers(0, 1)),  # loop 1 or 2
    st.tuples(
        st.sampled_from(["pressure", "thermal", "solenoid", "release"]), st.integers(0, 1), st.integers(0, 1)
    ),
    st.tuples(st.just("limit"), BOLLARD, st.sampled_from(list(LimitFault))),
    st.tuples(st.sampled_from(["mains", "maintenance", "jammed"]), st.just(0), st.integers(0, 1)),
    st.tuples(st.just("logic"), st.just(0), st.sampled_from(list(Logic))),
    st.tuples(st.just("command"), st.sampled_from(list(Command)), st.integers(0, 60)),
)


def apply(s: BollardSite, clock: SteppedClock, step: Step) -> Result | None:
    kind, a, b = step
    match kind:
        case "wait":
            clock.advance(a / 10)
        case "loop":
            s.set_loop(a, bool(b))
        case "pressure":
            s.set_bollard(a, pressure=bool(b))
        case "thermal":
            s.set_bollard(a, thermal=bool(b))
        case "solenoid":
            s.set_bollard(a, solenoid=bool(b))
        case "release":
            s.set_bollard(a, manual_release=bool(b))
        case "limit":
            s.set_bollard(a, limit_fault=LimitFault(b))
        case "mains":
            s.set_site(mains_failure=bool(b))
        case "maintenance":
            s.set_site(maintenance=bool(b))
        case "jammed":
            s.set_site(jammed=bool(b))
        case "logic":
            s.set_site(logic=Logic(b))
        case _:
            return s.command(Command(a), b)
    return None


@settings(max_examples=200, deadline=None)
@given(st.lists(STEPS, max_size=40), st.sampled_from(list(PowerFail)))
def test_invariants_hold_whatever_happens(steps: list[Step], power_fail: PowerFail) -> None:
    clock = SteppedClock()
    s = site(clock, power_fail=power_fail)
    for step in steps:
        tripped_before = any(s.loops) or any(b.pressure for b in s.bollards)
        result = apply(s, clock, step)
        r = s.reading()
        assert 0.0 <= s.drive.position <= 1.0
        tripped = any(r.loops) or any(b.pressure_switch for b in r.bollards)
        assert not (tripped and r.state is SiteState.RISING), "a loop or the pressure switch stops a rise"
        if step[0] == "command" and step[1] == Command.RAISE and tripped_before:
            assert result is not Result.OK, "a raise is refused while a loop or a pressure switch is active"
        if r.light_green:
            assert s.drive.position == 0.0
        assert r.inversions <= s.settings.max_inversions
        assert r.cycles + r.cycles_to_service == s.settings.service_interval
        assert s.reading() == r  # reading twice at one instant changes nothing
