"""A DALI bus with control gear on it, with no I/O: forward frames in, backward frames out. Each
:class:`SimGear` is a :class:`~simulators.luminaire.model.Luminaire` behind the IEC 62386-102/207 commands
a gateway uses and the D4i memory banks 202, 205 and 206 (DiiA Parts 252, 253). Frames are decoded by
python-dali (``Command.from_frame``), the gear's answers to them computed here.

What a gear does: DAPC, OFF, RECALL MAX/MIN LEVEL; QUERY ACTUAL LEVEL (MASK, 255, while its lamp has
failed), QUERY STATUS, QUERY CONTROL GEAR PRESENT, QUERY DEVICE TYPE (6), QUERY CONTENT DTR0/DTR1 and,
after ENABLE DEVICE TYPE 6, QUERY FAILURE STATUS; DTR0, DTR1, ENABLE WRITE MEMORY (taken only when sent
twice in a row, as every send-twice command), READ MEMORY LOCATION (DTR0 counts up; no answer for a
bank it lacks or a location past the bank's last), WRITE MEMORY LOCATION (NO REPLY) to the latch byte
0x02: 0xAA freezes the bank for reading, 0xFF releases it. Write enable ends with any command other
than DTR and memory writes (as python-dali's fake gear, ``dali/tests/fakes.py``). Without the latch
each read sees the live value, so a multi-byte value read across a change can tear, as on a real gear.

Bank contents come from the luminaire's state. Not in the model, so made up here: supply frequency 50 Hz,
power factor MASK (not implemented), light-source voltage and current (a 40 V LED string). Tests force
a value's raw bytes (TMASK, MASK) with :meth:`SimGear.override`.

Several gear answering one query with different bytes give a framing error (a short-address clash);
identical answers overlap into one valid backward frame, as on the wire.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from typing import Any

from dali import address
from dali.command import Command
from dali.frame import ForwardFrame
from dali.gear import general, led

from simulators.luminaire.model import BALLAST_FAILURE, LAMP_FAILURE, Fault, Luminaire

MASK = 0xFF
LATCH_LOCATION = 0x02
_LAST = {202: 0x0F, 205: 0x1C, 206: 0x20}
_WRITE_KEEPS_ENABLE = (
    general.WriteMemoryLocation,
    general.WriteMemoryLocationNoReply,
    general.DTR0,
    general.DTR1,
    general.DTR2,
    general.QueryContentDTR0,
    general.QueryContentDTR1,
    general.QueryContentDTR2,
)
LED_STRING_V = 40.0


class Clash(enum.Enum):
    FRAMING_ERROR = "framing error"


def _be(value: float, size: int) -> list[int]:
    raw = max(0, min(round(value), 2 ** (8 * size) - 3))  # the largest valid raw value is all ones - 2
    return list(raw.to_bytes(size, "big"))


def _celsius(value: float) -> int:
    return max(0, min(round(value) + 60, 0xFD))


class SimGear:
    def __init__(
        self,
        address: int,
        luminaire: Luminaire,
        *,
        banks: Iterable[int] = (202, 205, 206),
        energy_scale: int = -1,
        power_scale: int = -1,
    ) -> None:
        self.address = address
        self.luminaire = luminaire
        self.banks = set(banks)
        self.energy_scale = energy_scale
        self.power_scale = power_scale
        self.silent = False  # a dead gear: hears nothing, answers nothing
        self.dtr0 = self.dtr1 = 0
        self._overrides: dict[int, dict[int, int]] = {}  # bank -> location -> forced byte
        self._latched: dict[int, list[int]] = {}
        self._write_enabled = False

    def override(self, value: Any, raw: bytes | None) -> None:
        """Force the raw bytes of a python-dali memory value (None: back to the model)."""
        bank = int(value.bank.address)
        locations = [int(loc.address) for loc in value.locations]
        forced = self._overrides.setdefault(bank, {})
        for i, loc in enumerate(locations):
            if raw is None:
                forced.pop(loc, None)
            else:
                forced[loc] = raw[i]

    def latched(self, bank: int) -> bool:
        return bank in self._latched

    def handle(self, cmd: Command, *, repeated: bool) -> int | None:
        """React to one frame on the bus; the backward frame, or None for no answer."""
        if self.silent or not self.luminaire.reachable:  # cut off, or without mains and interface
            return None
        if self._write_enabled and not isinstance(cmd, _WRITE_KEEPS_ENABLE):
            self._write_enabled = False
        match cmd:
            case general.DTR0():
                self.dtr0 = cmd.param
            case general.DTR1():
                self.dtr1 = cmd.param
            case general.WriteMemoryLocation() | general.WriteMemoryLocationNoReply():
                written = self._write(cmd.param)
                return written if isinstance(cmd, general.WriteMemoryLocation) else None
        if not self._addressed(cmd) or (cmd.sendtwice and not repeated):
            return None
        return self._addressed_command(cmd)

    def _addressed_command(self, cmd: Command) -> int | None:
        lum = self.luminaire
        match cmd:
            case general.DAPC():
                if cmd.power != MASK:
                    lum.set_arc(cmd.power)
            case general.Off():
                lum.set_arc(0)
            case general.RecallMaxLevel():
                lum.set_arc(lum.settings.max_level)
            case general.RecallMinLevel():
                lum.set_arc(lum.settings.min_level)
            case general.EnableWriteMemory():
                self._write_enabled = True
            case general.SetPowerOnLevel():
                lum.settings = dataclasses.replace(lum.settings, power_on=self.dtr0)
            case general.SetSystemFailureLevel():
                lum.settings = dataclasses.replace(lum.settings, system_failure=self.dtr0)
            case _ if cmd.is_query:
                return self._query(cmd)
        return None

    def _query(self, cmd: Command) -> int | None:
        match cmd:
            case general.QueryActualLevel():
                state = self.luminaire.state()
                return MASK if state.status & LAMP_FAILURE else state.arc
            case general.QueryStatus():
                return self.luminaire.state().status
            case general.QueryControlGearPresent():
                return MASK
            case general.QueryDeviceType():
                return 6
            case general.QueryPowerOnLevel():
                return self.luminaire.settings.power_on
            case general.QuerySystemFailureLevel():
                return self.luminaire.settings.system_failure
            case general.QueryContentDTR0():
                return self.dtr0
            case general.QueryContentDTR1():
                return self.dtr1
            case led.QueryFailureStatus():
                return self.luminaire.state().led_failure
            case general.ReadMemoryLocation():
                return self._read()
        return None

    def _addressed(self, cmd: Command) -> bool:
        dest = getattr(cmd, "destination", None)
        if isinstance(dest, address.GearShort):
            return bool(dest.address == self.address)
        return isinstance(dest, address.GearBroadcast | address.GearBroadcastUnaddressed)

    def _read(self) -> int | None:
        bank, loc = self.dtr1, self.dtr0
        if bank not in self.banks:
            return None  # the query is ignored: DTR0 stays
        self.dtr0 = min(loc + 1, 0xFF)
        image = self._latched.get(bank) or self.image(bank)
        return image[loc] if loc < len(image) else None

    def _write(self, value: int) -> int | None:
        bank, loc = self.dtr1, self.dtr0
        if not self._write_enabled or bank not in self.banks:
            return None
        self.dtr0 = min(loc + 1, 0xFF)
        if loc != LATCH_LOCATION:
            return None  # every other location of these banks is read-only
        if value == 0xAA:
            self._latched[bank] = self.image(bank)
        elif value == 0xFF:
            self._latched.pop(bank, None)
        return value

    def image(self, bank: int) -> list[int]:
        """The bank's bytes now, location 0 (the last location) first."""
        s = self.luminaire.state()
        head = [_LAST[bank], 0x00, 0xAA if bank in self._latched else 0xFF, 0x01]
        if bank == 202:
            energy_raw = s.energy_wh / 10**self.energy_scale
            power_raw = s.power_w / 10**self.power_scale
            body = [
                self.energy_scale & 0xFF,
                *_be(energy_raw, 6),
                self.power_scale & 0xFF,
                *_be(power_raw, 4),
            ]
        elif bank == 205:
            dead = self.luminaire.fault is Fault.BALLAST
            body = [
                *_be(s.operating_time_s, 4),
                *_be(s.start_counter, 3),
                *_be(s.supply_voltage_v * 10, 2),
                0 if dead else 50,
                MASK,  # power factor: not implemented
                int(bool(s.status & BALLAST_FAILURE)),
                *([0] * 11),  # failure counter; under/overvoltage, power limit, derating, shutdown + counters
                _celsius(s.gear_temperature_c),
                max(0, min(round(s.output_current_pct), 100)),
            ]
        else:
            on = s.arc > 0
            volts = LED_STRING_V if on else 0.0
            amps = max(0.0, s.power_w - 0.5) / volts if on else 0.0
            flags = s.light_source_failure
            body = [
                *_be(s.start_counter, 3),
                *_be(s.start_counter, 3),
                *_be(s.light_on_time_s, 4),
                *_be(s.light_on_time_s, 4),
                *_be(volts * 10, 2),
                *_be(amps * 1000, 2),
                *(
                    x for bit in range(5) for x in (flags >> bit & 1, 0)
                ),  # overall, short, open, derating, shutdown
                _celsius(s.light_source_temperature_c),
            ]
        image = head + body
        for loc, byte in self._overrides.get(bank, {}).items():
            image[loc] = byte
        return image


class SimBus:
    """The gear on one DALI line, as the interface sees them: one forward frame at a time."""

    def __init__(self, gear: Iterable[SimGear]) -> None:
        self.gear = list(gear)
        self._device_type = 0  # set by ENABLE DEVICE TYPE for the next frame only
        self._last: bytes | None = None

    def by_address(self, sa: int) -> SimGear:
        return next(g for g in self.gear if g.address == sa)

    def transmit(self, data: bytes) -> tuple[Command, int | Clash | None]:
        """One forward frame: the command python-dali reads in it, and what comes back."""
        cmd = Command.from_frame(ForwardFrame(8 * len(data), data), devicetype=self._device_type)
        self._device_type = cmd.param if isinstance(cmd, general.EnableDeviceType) else 0
        repeated, self._last = data == self._last, data
        answers = {a for g in self.gear if (a := g.handle(cmd, repeated=repeated)) is not None}
        if not answers:
            return cmd, None
        if len(answers) > 1:
            return cmd, Clash.FRAMING_ERROR
        return cmd, answers.pop()
