"""The register map of ``sim-bollard`` (devices.md §5.3) over a :class:`BollardSite`. Pure: every value is
computed from the model when it is read. Addresses are 0-based, 32-bit values high word first.

- Discrete inputs (FC02), ``16·(b−1) + 0..13`` for bollard b = 1..count: top limit, bottom limit, loop 1,
  loop 2, pressure switch, rise-limit pressure switch, emergency lowering, manual release, mains failure,
  thermal trip, solenoid fault, cabinet door, traffic light green, flashing/buzzer (+14, +15 read 0).
  Loops, emergency, mains, door, light and flashing belong to the site: every block repeats them.
- Input registers (FC04) 0..12: state, operating logic, fault code, consecutive inversions, cycle
  counter (uint32), cycles to next service (uint32), last rise / lower time (ms), hydraulic pressure
  (0.1 bar), oil temperature (0.1 °C, int16), motor current (0.01 A).
- Holding registers (FC03/06/16) 100..104, the command mailbox: command, hold duration (s), sequence
  number, result, last processed sequence number. A write that includes 100 runs the command with 101
  and 102 as they stand after that write (write 100..102 in one FC16, or 101 and 102 before 100); the
  result goes to 103, the sequence number to 104. A command whose sequence number equals the last
  processed one is a retry (its answer was lost): it is not run again and 103 keeps its result. 103
  and 104 are read-only; a command code other than 1..6 is refused (illegal data value).
- Sim control (holding, not in the product): 60000 loop 1 occupied, 60001 loop 2 occupied, 60002 mains
  failure, 60003 cabinet door open, 60004 maintenance mode, 60005 drive jammed (0/1 each), 60006
  operating logic (0..3); per bollard b at ``60016 + 16·(b−1)``: +0 pressure switch, +1 thermal trip,
  +2 solenoid fault, +3 manual release (0/1), +4 limit-switch fault (0 none, 1 top stuck, 2 bottom
  stuck, 3 both open). They read back what was set.

Unmapped registers inside these ranges read 0 and refuse writes; outside them is an illegal address.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from simulators.bollard.codes import BollardInputs, Command, LimitFault, Logic
from simulators.bollard.site import BollardSite

DISCRETE_STRIDE = 16
INPUT_COUNT = 13
MAILBOX = 100  # command, hold duration, sequence, result, last sequence
COMMAND, HOLD_S, SEQUENCE, RESULT, LAST_SEQUENCE = range(MAILBOX, MAILBOX + 5)
SIM_CONTROL = 60000
BOLLARD_CONTROL = SIM_CONTROL + 16  # + 16·(b−1)
_U16 = 0xFFFF


class MapError(Exception):
    """A request the map refuses; ``code`` is the Modbus exception code to answer with."""

    ILLEGAL_ADDRESS = 2
    ILLEGAL_VALUE = 3

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True, slots=True)
class _Control:
    maximum: int
    get: Callable[[BollardSite], int]
    set: Callable[[BollardSite, int], None]


def _site_controls() -> dict[int, _Control]:
    return {
        0: _Control(1, lambda s: s.loops[0], lambda s, v: s.set_loop(0, bool(v))),
        1: _Control(1, lambda s: s.loops[1], lambda s, v: s.set_loop(1, bool(v))),
        2: _Control(1, lambda s: s.mains_failure, lambda s, v: s.set_site(mains_failure=bool(v))),
        3: _Control(1, lambda s: s.door_open, lambda s, v: s.set_site(door_open=bool(v))),
        4: _Control(1, lambda s: s.maintenance, lambda s, v: s.set_site(maintenance=bool(v))),
        5: _Control(1, lambda s: s.drive.jammed, lambda s, v: s.set_site(jammed=bool(v))),
        6: _Control(3, lambda s: s.logic, lambda s, v: s.set_site(logic=Logic(v))),
    }


def _bollard_controls(b: int) -> dict[int, _Control]:
    def inputs(s: BollardSite) -> BollardInputs:
        return s.bollards[b]

    return {
        0: _Control(1, lambda s: inputs(s).pressure, lambda s, v: s.set_bollard(b, pressure=bool(v))),
        1: _Control(1, lambda s: inputs(s).thermal, lambda s, v: s.set_bollard(b, thermal=bool(v))),
        2: _Control(1, lambda s: inputs(s).solenoid, lambda s, v: s.set_bollard(b, solenoid=bool(v))),
        3: _Control(
            1, lambda s: inputs(s).manual_release, lambda s, v: s.set_bollard(b, manual_release=bool(v))
        ),
        4: _Control(
            3, lambda s: inputs(s).limit_fault, lambda s, v: s.set_bollard(b, limit_fault=LimitFault(v))
        ),
    }


class BollardMap:
    def __init__(self, site: BollardSite) -> None:
        self.site = site
        self.mailbox = [0] * 5  # registers 100..104
        self._processed = False  # 104 holds a processed sequence number (not just its initial 0)
        self._controls = {SIM_CONTROL + k: c for k, c in _site_controls().items()}
        for b in range(len(site.bollards)):
            base = BOLLARD_CONTROL + DISCRETE_STRIDE * b
            self._controls.update({base + k: c for k, c in _bollard_controls(b).items()})

    @property
    def discrete_count(self) -> int:
        return DISCRETE_STRIDE * len(self.site.bollards)

    @property
    def holding_ranges(self) -> tuple[tuple[int, int], ...]:
        """The served holding ranges as (first address, register count)."""
        return (MAILBOX, 5), (SIM_CONTROL, BOLLARD_CONTROL - SIM_CONTROL + self.discrete_count)

    def discrete_inputs(self) -> list[bool]:
        """All discrete inputs, address 0 first."""
        r = self.site.reading()
        bits: list[bool] = []
        for b in r.bollards:
            bits += [b.top_limit, b.bottom_limit, *r.loops, b.pressure_switch, b.rise_limit_pressure_switch]
            bits += [r.emergency, b.manual_release, r.mains_failure, b.thermal_trip, b.solenoid_fault]
            bits += [r.door_open, r.light_green, r.flashing, False, False]
        return bits

    def input_registers(self) -> list[int]:
        """Input registers 0..12."""
        r = self.site.reading()
        return [
            int(r.state),
            int(r.logic),
            int(r.fault),
            min(r.inversions, _U16),
            *_u32(r.cycles),
            *_u32(r.cycles_to_service),
            min(r.last_rise_ms, _U16),
            min(r.last_lower_ms, _U16),
            round(r.hydraulic_bar * 10),
            round(r.oil_c * 10) & _U16,
            round(r.motor_a * 100),
        ]

    def read_holding(self, address: int, count: int) -> list[int]:
        out = []
        for a in range(address, address + count):
            if MAILBOX <= a < MAILBOX + 5:
                out.append(self.mailbox[a - MAILBOX])
            elif a in self._controls:
                out.append(int(self._controls[a].get(self.site)))
            elif self._in_control_block(a):
                out.append(0)
            else:
                raise MapError(MapError.ILLEGAL_ADDRESS, f"{a} is outside the map")
        return out

    def write_holding(self, address: int, values: Sequence[int]) -> None:
        """Check every register of the write first, then apply them in order; run a command last."""
        actions = [self._write_action(address + i, v) for i, v in enumerate(values)]
        for action in actions:
            action()
        if address <= COMMAND < address + len(values):
            self._run()

    def _write_action(self, address: int, value: int) -> Callable[[], None]:
        if address in (COMMAND, HOLD_S, SEQUENCE):
            if address == COMMAND and value not in set(Command):
                raise MapError(MapError.ILLEGAL_VALUE, f"{address}: unknown command {value}")
            return partial(self.mailbox.__setitem__, address - MAILBOX, value)
        control = self._controls.get(address)
        if control is None:
            mapped = address in (RESULT, LAST_SEQUENCE) or self._in_control_block(address)
            raise MapError(
                MapError.ILLEGAL_ADDRESS, f"{address} is {'read-only' if mapped else 'outside the map'}"
            )
        if not 0 <= value <= control.maximum:
            raise MapError(MapError.ILLEGAL_VALUE, f"{address}: {value} is not 0..{control.maximum}")
        return partial(control.set, self.site, value)

    def _run(self) -> None:
        command, hold_s, sequence = self.mailbox[0], self.mailbox[1], self.mailbox[2]
        if self._processed and sequence == self.mailbox[4]:
            return  # a retry of the command already processed
        self.mailbox[3] = int(self.site.command(Command(command), hold_s))
        self.mailbox[4] = sequence
        self._processed = True

    def _in_control_block(self, address: int) -> bool:
        first, count = self.holding_ranges[1]
        return first <= address < first + count


def _u32(value: int) -> tuple[int, int]:
    value = min(value, 0xFFFFFFFF)
    return value >> 16, value & _U16
