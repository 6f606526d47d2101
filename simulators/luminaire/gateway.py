"""The register map of an Intesis-style DALI-to-Modbus gateway (devices.md §5.1): one DALI channel
``c`` (0 or 1; one channel per simulator) with luminaires at short addresses 0..N-1 (N ≤ 64). Pure:
registers are computed from the luminaire models on every read, nothing is cached between requests.

Served ranges (holding registers, 0-based, big-endian, 32-bit values high word first):

- ``7000·c + 100·sa + 0..99``: +0..+3 of sa 0 are the failure bitfield (bit i of word k: ECG 16k+i
  failed) and +4 of sa 0 "update all ECG status" (reads 0, accepts 0/1); per luminaire +5 status, +6
  actual level %, +7 device type 6, +8..+12 phys. min / min / max / power-on / system-failure level %,
  +13 fade time, +14 fade rate, +15 arc power setpoint % (R/W), +80 LED failure status, +82 / +92
  dimming curve (0, logarithmic);
- ``25000 + 3200·c + 100·sa + 0..99`` (D4i): +34 active energy Wh (uint32: the counter wraps at
  2³² Wh), +36 active power 0.1 W, +38..+45 apparent and load-side energy / power = 0xFFFF 0xFFFF
  (MASK: not supported), +46 operating time s, +48 start counter, +50 gear temperature °C (int16),
  +52 supply voltage 0.1 V, +53 light-source on-time s, +55 light-source failure flags, +56
  light-source temperature °C (int16), +57 output current %. A luminaire with a ballast failure (a
  dead gear) reads MASK in all of these: 0xFFFF, or 0x7FFF for the signed ones;
- ``60000 + sa`` (sim control, not in the product): write 1 lamp failure, 2 ballast failure, 0 clear,
  3 power cycle, 4 mains off, 5 mains on, 6 the gear stops answering, 7 it answers again; reads the
  current fault.

A gear that does not answer (``silent``, or without mains and without an interface of its own: see
:class:`Luminaire`) fails every read that touches its registers (+5..+99, its D4i block) with Modbus
exception 11, "gateway target device failed to respond" (our choice: the Intesis behaviour is not
documented), and counts in the failure bitfield; a level written to it is taken and lost (DAPC has no
answer for the gateway to miss).

Unmapped registers inside these ranges read 0; registers outside them are an illegal address. Only
+15, +92, +4 of sa 0 and the sim-control block are writable; other writes are an illegal address.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from functools import partial

from simulators.luminaire.curve import arc_to_percent
from simulators.luminaire.model import BALLAST_FAILURE, Fault, Luminaire, LuminaireState

CHANNEL_STRIDE = 7000  # the channel block is at 7000·c
D4I_BASE, D4I_CHANNEL_STRIDE = 25000, 3200
SIM_CONTROL_BASE = 60000
POWER_CYCLE_COMMAND = 3
MAINS_OFF_COMMAND, MAINS_ON_COMMAND = 4, 5
SILENT_COMMAND, ANSWERS_COMMAND = 6, 7
MAX_LUMINAIRES = 64
_MASK16 = 0xFFFF
_WRAP = 2**32
_MASK_INT16 = 0x7FFF  # MASK of a signed value (DALI: 0x7F…)
_D4I_OFFSETS = (*range(34, 51), *range(52, 58))
_SETPOINT, _SELECT_CURVE, _UPDATE_ALL = 15, 92, 4


class _Block(enum.Enum):
    CHANNEL = "channel"
    D4I = "d4i"
    CONTROL = "sim-control"


class GatewayError(Exception):
    """A request the gateway refuses; ``code`` is the Modbus exception code to answer with."""

    ILLEGAL_ADDRESS = 2
    ILLEGAL_VALUE = 3
    TARGET_NO_RESPONSE = 11  # the gateway asked the gear; the gear did not answer

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class DaliGateway:
    def __init__(self, luminaires: Sequence[Luminaire], channel: int = 0) -> None:
        if not 1 <= len(luminaires) <= MAX_LUMINAIRES:
            raise ValueError(f"a channel holds 1..{MAX_LUMINAIRES} luminaires, got {len(luminaires)}")
        if channel not in (0, 1):
            raise ValueError(f"channel must be 0 or 1, got {channel}")
        self.luminaires = tuple(luminaires)
        self.channel = channel
        n = len(luminaires)
        self._blocks = (
            (_Block.CHANNEL, CHANNEL_STRIDE * channel, 100 * n),
            (_Block.D4I, D4I_BASE + D4I_CHANNEL_STRIDE * channel, 100 * n),
            (_Block.CONTROL, SIM_CONTROL_BASE, n),
        )

    @property
    def ranges(self) -> tuple[tuple[int, int], ...]:
        """The served address ranges as (first address, register count), ascending."""
        return tuple((base, count) for _, base, count in self._blocks)

    def read(self, address: int, count: int) -> list[int]:
        """``count`` registers from ``address``; each luminaire is sampled once per request."""
        states: dict[int, LuminaireState] = {}

        def state(sa: int) -> LuminaireState:
            if sa not in states:
                states[sa] = self.luminaires[sa].state()
            return states[sa]

        located = [self._locate(a) for a in range(address, address + count)]
        for block, sa, offset in located:
            gear_register = block is _Block.D4I or (block is _Block.CHANNEL and offset > _UPDATE_ALL)
            if gear_register and not self.luminaires[sa].reachable:
                raise GatewayError(GatewayError.TARGET_NO_RESPONSE, f"gear {sa} does not answer")
        out = []
        for block, sa, offset in located:
            if block is _Block.CHANNEL and sa == 0 and offset < _UPDATE_ALL:
                out.append(self._failure_bits(offset))
            elif block is _Block.CHANNEL:
                out.append(_channel_register(self.luminaires[sa], state(sa), offset))
            elif block is _Block.D4I:
                out.append(_d4i_registers(state(sa)).get(offset, 0))
            else:
                out.append(int(self.luminaires[sa].fault))
        return out

    def write(self, address: int, values: Sequence[int]) -> None:
        """Check every register of the write first, then apply them in order."""
        actions = [self._write_action(address + i, v) for i, v in enumerate(values)]
        for action in actions:
            action()

    def _write_action(self, address: int, value: int) -> Callable[[], None]:
        block, sa, offset = self._locate(address)
        lum = self.luminaires[sa]
        if block is _Block.CHANNEL and offset == _SETPOINT:
            if not 0 <= value <= 100:
                raise GatewayError(GatewayError.ILLEGAL_VALUE, f"{address}: level {value} % is not 0..100")
            return partial(lum.set_percent, value)
        if block is _Block.CHANNEL and (offset == _SELECT_CURVE or (sa == 0 and offset == _UPDATE_ALL)):
            if value != 0 and not (offset == _UPDATE_ALL and value == 1):
                raise GatewayError(GatewayError.ILLEGAL_VALUE, f"{address}: value {value} not accepted")
            return _nothing  # the status is always fresh; only the logarithmic curve is simulated
        if block is _Block.CONTROL:
            if value in _GEAR_COMMANDS:
                return partial(_GEAR_COMMANDS[value], lum)
            if value not in set(Fault):
                raise GatewayError(GatewayError.ILLEGAL_VALUE, f"{address}: unknown sim command {value}")
            return partial(lum.inject, Fault(value))
        raise GatewayError(GatewayError.ILLEGAL_ADDRESS, f"{address} is read-only")

    def _locate(self, address: int) -> tuple[_Block, int, int]:
        """(block, short address, offset in the luminaire's part of the block) of a served register."""
        for block, base, count in self._blocks:
            if base <= address < base + count:
                sa, offset = divmod(address - base, count // len(self.luminaires))
                return block, sa, offset
        raise GatewayError(GatewayError.ILLEGAL_ADDRESS, f"{address} is outside the map")

    def _failure_bits(self, word: int) -> int:
        bits = 0
        for i, lum in enumerate(self.luminaires[16 * word : 16 * word + 16]):
            if lum.fault is not Fault.NONE or not lum.reachable:
                bits |= 1 << i
        return bits


def _nothing() -> None:
    pass


def _silence(lum: Luminaire, silent: bool) -> None:
    lum.silent = silent


_GEAR_COMMANDS: dict[int, Callable[[Luminaire], None]] = {
    POWER_CYCLE_COMMAND: Luminaire.power_cycle,
    MAINS_OFF_COMMAND: partial(Luminaire.set_mains, on=False),
    MAINS_ON_COMMAND: partial(Luminaire.set_mains, on=True),
    SILENT_COMMAND: partial(_silence, silent=True),
    ANSWERS_COMMAND: partial(_silence, silent=False),
}


def _percent(arc: int) -> int:
    return round(arc_to_percent(arc))


def _channel_register(lum: Luminaire, s: LuminaireState, offset: int) -> int:
    g = lum.settings
    match offset:
        case 5:
            return s.status
        case 6:
            return _percent(s.arc)
        case 7:
            return 6  # device type: LED
        case 8 | 9 | 10 | 11 | 12:
            return _percent((g.phys_min, g.min_level, g.max_level, g.power_on, g.system_failure)[offset - 8])
        case 13:
            return g.fade_time
        case 14:
            return g.fade_rate
        case 15:
            return _percent(s.target_arc)
        case 80:
            return s.led_failure
        case _:
            return 0  # +82 / +92 dimming curve: logarithmic; the rest unmapped


def _d4i_registers(s: LuminaireState) -> dict[int, int]:
    if s.status & BALLAST_FAILURE:  # a dead gear answers no memory-bank query: MASK everywhere
        regs = dict.fromkeys(_D4I_OFFSETS, _MASK16)
        regs[50] = regs[56] = _MASK_INT16
        return regs
    regs = {}

    def u32(offset: int, value: int) -> None:
        regs[offset], regs[offset + 1] = value >> 16 & _MASK16, value & _MASK16

    u32(34, int(s.energy_wh) % _WRAP)  # the map's 32 bits of the gear's counter: it wraps
    u32(36, round(s.power_w * 10))
    for offset in (38, 40, 42, 44):  # apparent / load-side energy and power: not supported
        u32(offset, 0xFFFFFFFF)
    u32(46, int(s.operating_time_s))
    u32(48, s.start_counter)
    regs[50] = round(s.gear_temperature_c) & _MASK16
    regs[52] = round(s.supply_voltage_v * 10)
    u32(53, int(s.light_on_time_s))
    regs[55] = s.light_source_failure
    regs[56] = round(s.light_source_temperature_c) & _MASK16
    regs[57] = round(s.output_current_pct)
    return regs
