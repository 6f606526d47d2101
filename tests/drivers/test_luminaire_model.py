"""The luminaire model: energy integrates power over an injected clock; fades; faults and status bits."""

from __future__ import annotations

import random

import pytest

from simulators.luminaire.curve import arc_to_percent
from simulators.luminaire.model import (
    BALLAST_FAILURE,
    FADE_RUNNING,
    LAMP_FAILURE,
    LAMP_ON,
    LED_OPEN_CIRCUIT,
    LIMIT_ERROR,
    POWER_CYCLE,
    SOURCE_OPEN,
    SOURCE_OVERALL,
    STANDBY_W,
    Fault,
    GearSettings,
    Luminaire,
)
from tests.drivers.conftest import SteppedClock


def lamp(clock: SteppedClock, nominal_w: float = 100.0, fade_time: int = 0) -> Luminaire:
    return Luminaire(nominal_w, clock, random.Random(1), GearSettings(fade_time=fade_time))


def test_starts_at_the_power_on_level(clock: SteppedClock) -> None:
    s = lamp(clock).state()
    assert (s.arc, s.target_arc, s.start_counter) == (254, 254, 1)
    assert s.status == LAMP_ON | POWER_CYCLE
    assert s.power_w == pytest.approx(100.5)
    assert s.energy_wh == 0.0


def test_energy_integrates_power_over_time(clock: SteppedClock) -> None:
    lum = lamp(clock, nominal_w=80.0)
    clock.advance(3600)
    assert lum.state().energy_wh == pytest.approx(80.5)
    lum.set_arc(0)
    clock.advance(1800)
    s = lum.state()
    assert s.power_w == pytest.approx(STANDBY_W)
    assert s.energy_wh == pytest.approx(80.5 + STANDBY_W / 2)
    lum.set_percent(50)
    clock.advance(7200)
    s = lum.state()
    half_w = 80.0 * arc_to_percent(229) / 100 + STANDBY_W
    assert s.target_arc == 229
    assert s.power_w == pytest.approx(half_w)
    assert s.energy_wh == pytest.approx(80.5 + STANDBY_W / 2 + 2 * half_w)
    assert s.operating_time_s == pytest.approx(3600 + 1800 + 7200)
    assert s.light_on_time_s == pytest.approx(3600 + 7200)


def test_reading_often_does_not_change_the_energy(clock: SteppedClock) -> None:
    a, b = lamp(clock), lamp(clock)
    for _ in range(100):
        clock.advance(36)
        a.state()
    assert a.state().energy_wh == pytest.approx(b.state().energy_wh)


def test_fade_ramps_the_level_and_sets_fade_running(clock: SteppedClock) -> None:
    lum = lamp(clock, fade_time=4)  # 0.5 * sqrt(2**4) = 2 s
    lum.set_arc(0)
    clock.advance(1.0)
    s = lum.state()
    assert s.arc == 127
    assert s.status & FADE_RUNNING
    assert s.target_arc == 0
    clock.advance(1.0)
    s = lum.state()
    assert s.arc == 0
    assert not s.status & (FADE_RUNNING | LAMP_ON)
    # the light falls along the log curve: the fade costs far less than half of full power for 2 s
    steps = 10_000
    arcs = [round(254 * (1 - (i + 0.5) / steps)) for i in range(steps)]
    joules = sum(100 * arc_to_percent(a) / 100 + STANDBY_W for a in arcs) * 2 / steps
    assert joules < 0.3 * 100.5 * 2
    assert s.energy_wh * 3600 == pytest.approx(joules, rel=0.02)


def test_levels_are_clamped_to_min_and_max_with_a_limit_error(clock: SteppedClock) -> None:
    lum = lamp(clock)
    lum.set_arc(10)
    s = lum.state()
    assert s.target_arc == 85
    assert s.status & LIMIT_ERROR
    lum.set_arc(200)
    assert not lum.state().status & LIMIT_ERROR


def test_a_level_command_clears_the_power_cycle_bit(clock: SteppedClock) -> None:
    lum = lamp(clock)
    lum.set_arc(254)
    assert not lum.state().status & POWER_CYCLE
    lum.set_arc(100)
    lum.power_cycle()
    s = lum.state()
    assert s.status & POWER_CYCLE
    assert s.start_counter == 2
    assert s.arc == 254


def test_lamp_failure(clock: SteppedClock) -> None:
    lum = lamp(clock)
    lum.set_percent(50)
    lum.inject(Fault.LAMP)
    s = lum.state()
    assert s.arc == 0
    assert s.level_percent == 0.0
    assert s.status & LAMP_FAILURE
    assert not s.status & (LAMP_ON | BALLAST_FAILURE)
    assert s.led_failure == LED_OPEN_CIRCUIT
    assert s.light_source_failure == SOURCE_OVERALL | SOURCE_OPEN
    assert s.output_current_pct == 0.0
    clock.advance(3600)
    assert lum.state().energy_wh == pytest.approx(STANDBY_W)
    lum.inject(Fault.NONE)
    s = lum.state()
    assert (s.arc, s.status & LAMP_FAILURE, s.led_failure, s.light_source_failure) == (229, 0, 0, 0)


def test_ballast_failure_is_a_dead_gear(clock: SteppedClock) -> None:
    lum = lamp(clock)
    lum.inject(Fault.BALLAST)
    clock.advance(600)
    s = lum.state()
    assert s.status & BALLAST_FAILURE
    assert not s.status & LAMP_ON
    assert s.power_w == 0.0
    assert s.energy_wh == 0.0
    assert s.operating_time_s == 0.0


def test_gear_warms_up_with_power_and_cools_when_off(clock: SteppedClock) -> None:
    lum = lamp(clock, nominal_w=120.0)
    cold = lum.state().gear_temperature_c
    clock.advance(3600)
    hot = lum.state().gear_temperature_c
    assert hot > cold + 30
    assert lum.state().light_source_temperature_c > cold + 25
    lum.set_arc(0)
    clock.advance(3600)
    assert lum.state().gear_temperature_c < cold + 2


def test_supply_voltage_is_about_230_with_noise(clock: SteppedClock) -> None:
    lum = lamp(clock)
    volts = [lum.state().supply_voltage_v for _ in range(200)]
    assert all(228 <= v <= 232 for v in volts)
    assert max(volts) - min(volts) > 0.1


def test_the_model_is_deterministic_for_a_seed(clock: SteppedClock) -> None:
    a = Luminaire(90.0, clock, random.Random(7))
    b = Luminaire(90.0, clock, random.Random(7))
    clock.advance(10)
    assert a.state() == b.state()


def test_a_replaced_gear_starts_its_counters_again(clock: SteppedClock) -> None:
    lum = Luminaire(100.0, clock, random.Random(1), energy_wh=1000.0, serial=7)
    lum.set_percent(50)
    lum.inject(Fault.LAMP)
    clock.t += 3600.0
    before = lum.state()
    assert before.energy_wh == pytest.approx(1000.5)  # the failed lamp: standby only
    assert before.start_counter == 1
    lum.replace_gear(serial=8)
    clock.t += 1800.0
    after = lum.state()
    assert lum.serial == 8
    assert after.energy_wh == pytest.approx(100.5 / 2)  # from zero, at the power-on level (full)
    assert (after.operating_time_s, after.start_counter, after.arc, after.status & POWER_CYCLE) == (
        1800.0,
        1,
        254,
        POWER_CYCLE,
    )


def test_mains_off_is_dark_and_dead_and_mains_back_is_a_power_cycle(clock: SteppedClock) -> None:
    lum = lamp(clock)
    lum.set_arc(200)
    lum.set_mains(False)
    clock.advance(3600)
    s = lum.state()
    assert (s.arc, s.power_w, s.supply_voltage_v, s.status & LAMP_ON) == (0, 0.0, 0.0, 0)
    assert (s.operating_time_s, s.energy_wh, s.start_counter) == (0.0, 0.0, 1)
    assert lum.reachable  # its interface stays up on the bus's power: it reports 0 V
    lum.set_mains(False)  # already off: nothing changes
    lum.set_mains(True)
    s = lum.state()
    assert (s.arc, s.start_counter, s.status & POWER_CYCLE) == (254, 2, POWER_CYCLE)
    assert s.supply_voltage_v > 220
    lum.set_mains(True)
    assert lum.state().start_counter == 2


def test_a_gear_without_an_interface_of_its_own_goes_silent_without_mains(clock: SteppedClock) -> None:
    lum = Luminaire(100.0, clock, random.Random(1), answers_without_mains=False)
    lum.set_mains(False)
    assert not lum.reachable
    lum.set_mains(True)
    assert lum.reachable


def test_a_silent_gear_takes_no_command_and_keeps_its_light(clock: SteppedClock) -> None:
    lum = lamp(clock)
    lum.silent = True
    assert not lum.reachable
    lum.set_arc(100)
    assert lum.state().arc == 254
    lum.silent = False
    lum.set_arc(100)
    assert lum.state().arc == 100
