"""The model of one DALI/D4i luminaire (an LED driver and its light source), with no I/O.

Time comes from an injected ``now()`` (monotonic seconds), so a test can step it: every command and every
``state()`` first integrates the counters up to ``now()``. What is modelled:

- arc level and target, with a linear fade over the DALI fade time (code n: 0.5·√2ⁿ s; 0 = none),
  requests clamped to MIN/MAX level (limit error, status b3);
- power = P_nominal × light fraction (the log curve) + 0.5 W standby; energy (Wh) integrates it;
- operating time, start counter (power cycles), light-source on-time;
- the D4i active-energy counter may start where a used gear left it (``energy_wh``: one near 2³² Wh
  wraps, see :mod:`simulators.luminaire.gateway`); :meth:`Luminaire.replace_gear` puts a new gear in
  the luminaire (another serial number, every counter from zero);
- gear and light-source temperatures rising towards ambient + k × power (first-order lag);
- supply voltage ≈ 230 V (a fixed per-luminaire offset within ±1.5 V plus ±0.3 V noise per reading);
- faults: a lamp failure (status b1, level 0, LED open circuit, light-source failure) or a ballast
  failure (status b0, gear dead: no light, no power, no operating time);
- mains (:meth:`Luminaire.set_mains`): off, the gear gives no light, draws nothing and counts no
  operating time; it reports a supply voltage of 0 V when its DALI interface stays up on the bus's own
  power (``answers_without_mains``, the default), else it does not answer at all (:attr:`reachable`);
  mains back is a power cycle (start counter + 1, status b7, the power-on level);
- ``silent``: the gear stops answering its gateway (a cut DALI wire, a dead interface): nothing reaches
  it, nothing comes back, while its light keeps doing what it did.
"""

from __future__ import annotations

import enum
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from simulators.luminaire.curve import arc_to_percent, percent_to_arc

STANDBY_W = 0.5
AMBIENT_C = 20.0
_TAU_S = 300.0  # thermal time constant
_GEAR_C_PER_W = 0.35
_SOURCE_C_PER_W = 0.3
_FADE_STEPS = 100  # integration steps over a whole fade

# status byte (DALI QUERY STATUS)
BALLAST_FAILURE = 0x01
LAMP_FAILURE = 0x02
LAMP_ON = 0x04
LIMIT_ERROR = 0x08
FADE_RUNNING = 0x10
POWER_CYCLE = 0x80
# LED failure status byte (DT6, QUERY FAILURE STATUS)
LED_OPEN_CIRCUIT = 0x02
# light-source failure flags (DiiA 253)
SOURCE_OVERALL = 0x01
SOURCE_OPEN = 0x04


class Fault(enum.IntEnum):
    NONE = 0
    LAMP = 1
    BALLAST = 2


@dataclass(frozen=True, slots=True)
class GearSettings:
    """DALI levels as arc values, and the fade settings (codes 0..15)."""

    phys_min: int = 85  # ≈ 1 %
    min_level: int = 85
    max_level: int = 254
    power_on: int = 254
    system_failure: int = 254
    fade_time: int = 0
    fade_rate: int = 7

    @property
    def fade_s(self) -> float:
        return 0.0 if self.fade_time == 0 else 0.5 * math.sqrt(2**self.fade_time)


@dataclass(frozen=True, slots=True)
class LuminaireState:
    """What the gear reports at one instant."""

    arc: int  # actual level as reported: 0 on lamp or ballast failure
    target_arc: int
    status: int
    led_failure: int
    power_w: float
    energy_wh: float
    operating_time_s: float
    start_counter: int
    gear_temperature_c: float
    supply_voltage_v: float
    light_on_time_s: float
    light_source_failure: int
    light_source_temperature_c: float
    output_current_pct: float

    @property
    def level_percent(self) -> float:
        return arc_to_percent(self.arc)


class Luminaire:
    def __init__(
        self,
        nominal_w: float,
        now: Callable[[], float],
        rng: random.Random,
        settings: GearSettings | None = None,
        ambient_c: float = AMBIENT_C,
        *,
        energy_wh: float = 0.0,
        serial: int = 1,
        answers_without_mains: bool = True,
    ) -> None:
        self.nominal_w = nominal_w
        self.answers_without_mains = answers_without_mains
        self.silent = False  # the gear does not answer (control-gear communication failure)
        self.ambient_c = ambient_c
        self.settings = settings or GearSettings()
        self._now = now
        self._rng = rng
        self._supply_offset_v = rng.uniform(-1.5, 1.5)
        t = now()
        self._last = t
        self._fault = Fault.NONE
        self._mains = True
        self._fade_from = self._target = self.settings.power_on
        self._fade_start, self._fade_s = t, 0.0
        self._power_cycled = True  # b7 stays set until the first level command
        self._limit_error = False
        self._energy_wh = energy_wh  # the D4i counter: a gear may come with a history
        self._operating_s = self._light_on_s = 0.0
        self._starts = 1
        self.serial = serial  # the gear's identification number (DALI memory bank 0)
        self._gear_c = self._source_c = ambient_c

    @property
    def fault(self) -> Fault:
        return self._fault

    @property
    def mains(self) -> bool:
        return self._mains

    @property
    def reachable(self) -> bool:
        """Whether the gear answers its gateway (a query, or takes a command) now."""
        return not self.silent and (self._mains or self.answers_without_mains)

    def set_mains(self, on: bool) -> None:
        """Mains off, or back on (a power cycle); the same state again changes nothing."""
        if on == self._mains:
            return
        if on:
            self.power_cycle()
        else:
            self._advance()
            self._mains = False

    def set_arc(self, arc: int) -> None:
        """DAPC: go to ``arc`` (0 = off) at the fade time; levels above 0 are clamped to MIN..MAX. A gear
        that does not answer does not get it either."""
        if not self.reachable:
            return
        t = self._advance()
        s = self.settings
        clamped = arc if arc == 0 else min(s.max_level, max(s.min_level, arc))
        self._limit_error = clamped != arc
        self._fade_from, self._target, self._fade_start = self._arc_at(t), clamped, t
        self._fade_s = s.fade_s if self._fade_from != clamped else 0.0
        self._power_cycled = False

    def set_percent(self, percent: float) -> None:
        self.set_arc(percent_to_arc(percent))

    def inject(self, fault: Fault) -> None:
        self._advance()
        self._fault = fault

    def power_cycle(self) -> None:
        """Mains off and on (or on, after off): the start counter counts it, the gear goes to its power-on
        level."""
        t = self._advance()
        self._mains = True
        self._starts += 1
        self._power_cycled = True
        self._fade_from = self._target = self.settings.power_on
        self._fade_start, self._fade_s = t, 0.0

    def replace_gear(self, serial: int) -> None:
        """A technician swaps the LED driver: a new gear at its power-on level, every counter from zero."""
        t = self._advance()
        self.serial = serial
        self._fault = Fault.NONE
        self.silent = False  # a new gear answers
        self._energy_wh = self._operating_s = self._light_on_s = 0.0
        self._starts = 1
        self._power_cycled, self._limit_error = True, False
        self._fade_from = self._target = self.settings.power_on
        self._fade_start, self._fade_s = t, 0.0

    def state(self) -> LuminaireState:
        t = self._advance()
        light = self._light_arc(t)
        lamp_failed = self._fault is Fault.LAMP
        status = (
            (BALLAST_FAILURE if self._fault is Fault.BALLAST else 0)
            | (LAMP_FAILURE if lamp_failed else 0)
            | (LAMP_ON if light > 0 else 0)
            | (LIMIT_ERROR if self._limit_error else 0)
            | (FADE_RUNNING if self._fading(t) and self._fault is not Fault.BALLAST and self._mains else 0)
            | (POWER_CYCLE if self._power_cycled else 0)
        )
        dead = self._fault is Fault.BALLAST or not self._mains
        return LuminaireState(
            arc=light,
            target_arc=self._target,
            status=status,
            led_failure=LED_OPEN_CIRCUIT if lamp_failed else 0,
            power_w=self._power(t),
            energy_wh=self._energy_wh,
            operating_time_s=self._operating_s,
            start_counter=self._starts,
            gear_temperature_c=self._gear_c,
            supply_voltage_v=0.0 if dead else 230.0 + self._supply_offset_v + self._rng.uniform(-0.3, 0.3),
            light_on_time_s=self._light_on_s,
            light_source_failure=SOURCE_OVERALL | SOURCE_OPEN if lamp_failed else 0,
            light_source_temperature_c=self._source_c,
            output_current_pct=arc_to_percent(light),
        )

    def _arc_at(self, t: float) -> int:
        """The level the fade has reached at ``t``, faults aside."""
        if self._fade_s <= 0 or t >= self._fade_start + self._fade_s:
            return self._target
        done = (t - self._fade_start) / self._fade_s
        return round(self._fade_from + (self._target - self._fade_from) * done)

    def _fading(self, t: float) -> bool:
        return self._fade_s > 0 and t < self._fade_start + self._fade_s

    def _light_arc(self, t: float) -> int:
        return 0 if self._fault is not Fault.NONE or not self._mains else self._arc_at(t)

    def _power(self, t: float) -> float:
        if self._fault is Fault.BALLAST or not self._mains:
            return 0.0
        return self.nominal_w * arc_to_percent(self._light_arc(t)) / 100 + STANDBY_W

    def _advance(self) -> float:
        """Integrate energy, times and temperatures from the last update to now; returns now."""
        t = self._now()
        if t <= self._last:
            return self._last
        fade_end = self._fade_start + self._fade_s
        if self._last < fade_end:  # power follows the log curve during a fade: integrate in small steps
            stop = min(t, fade_end)
            n = math.ceil((stop - self._last) / self._fade_s * _FADE_STEPS)
            cuts = [self._last + (stop - self._last) * i / n for i in range(n + 1)]
            cuts += [t] if stop < t else []
        else:
            cuts = [self._last, t]
        for a, b in itertools.pairwise(cuts):
            self._energy_wh += (self._power(a) + self._power(b)) / 2 * (b - a) / 3600
            if self._light_arc((a + b) / 2) > 0:
                self._light_on_s += b - a
        dt = t - self._last
        if self._fault is not Fault.BALLAST and self._mains:
            self._operating_s += dt
        p = self._power(t)
        k = 1 - math.exp(-dt / _TAU_S)
        self._gear_c += (self.ambient_c + _GEAR_C_PER_W * p - self._gear_c) * k
        self._source_c += (self.ambient_c + _SOURCE_C_PER_W * p - self._source_c) * k
        self._last = t
        return t
