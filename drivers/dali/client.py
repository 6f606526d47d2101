"""The DALI serial driver: the control gear on one DALI line, through one serial interface speaking
Lunatone's LUBA protocol. The only module that turns transport and pyserial failures into
:mod:`drivers.errors`, with ``from exc``.

The read plan of each gear is computed once, at construction (:mod:`drivers.dali.plan`). A read runs
its transactions in order, each in one slot of the line's :class:`BusScheduler` (a command may take the
line between two transactions, never inside one: DTR0/DTR1 are shared by every gear). Failures:

- the first query of a read gets no answer: the gear is not there (no power, wrong short address):
  :class:`DeviceUnreachable`, and nothing more is sent for it;
- a later query without an answer, or a framing error (two gear answering at once): those points get
  a ``PointValue`` with an ``error``; a bank whose read gets no answer is left (its unlatch still
  goes out), the other transactions run;
- a value that does not decode (TMASK, MASK, out of range): that point only;
- the interface silent, the port gone or failing: :class:`DeviceUnreachable`; bytes on the line that
  are not LUBA messages, or a frame the interface refuses: :class:`DeviceError`; a bus without power
  (the interface refuses with a bus voltage error): :class:`DeviceUnreachable`.

``write(device, "level", percent)`` sends DAPC with the arc level the logarithmic dimming curve gives
for that light output (0 % is off), ahead of queued polls. It is not retried.

``store_level(device, which, percent)`` (commissioning, ``edge-agent lighting commission``) stores the
gear's POWER ON LEVEL or SYSTEM FAILURE LEVEL: DTR0, the SET command sent twice, then the QUERY that
reads it back, in one slot of the line (DTR0 is shared); returns the arc level the gear holds.

``call(device, command, inputs)`` sends one :class:`~drivers.dali.config.GearCommand` to the gear, the
way a DALI profile's action declares it (``DAPC`` with ``level`` in %, ``OFF``, ``RECALL_MAX_LEVEL``,
``RECALL_MIN_LEVEL``), at command priority, not retried; its read-back is a fresh ``read`` at
``Priority.COMMAND`` (QUERY ACTUAL LEVEL).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import serial
from dali.address import GearShort
from dali.gear import general

from drivers.base import PointValue, ReadStats, Value
from drivers.dali import luba
from drivers.dali.codec import decode
from drivers.dali.config import (
    GEAR_COMMAND_INPUTS,
    DaliDevice,
    DaliPoint,
    DaliSerialLink,
    GearCommand,
    Quantity,
    StoredLevel,
)
from drivers.dali.curve import percent_to_arc
from drivers.dali.plan import Frame, ReadPlan, Transaction, frame, plan_reads
from drivers.dali.points import SOURCES, MemorySource
from drivers.dali.transport import (
    Answer,
    DaliTransport,
    FrameRefused,
    InterfaceSilent,
    LinkError,
    Missing,
    SerialLubaTransport,
)
from drivers.errors import CallError, DecodeError, DeviceError, DeviceUnreachable, WriteError
from drivers.scheduler import BusScheduler, Priority

log = logging.getLogger(__name__)

COMMAND_PRIORITY = 2  # IEC 62386-103 §9.14: a user-instigated action
STORE_COMMANDS: dict[StoredLevel, tuple[Any, Any]] = {  # the SET (via DTR0) and its QUERY
    StoredLevel.POWER_ON: (general.SetPowerOnLevel, general.QueryPowerOnLevel),
    StoredLevel.SYSTEM_FAILURE: (general.SetSystemFailureLevel, general.QuerySystemFailureLevel),
}


@dataclass(slots=True)
class _Tally:
    """What one read cost: frames sent, answers received."""

    frames: int = 0
    answers: int = 0


class DaliSerialDriver:
    """A :class:`drivers.base.Driver` for the control gear on one DALI line."""

    def __init__(
        self,
        name: str,
        link: DaliSerialLink,
        devices: Sequence[DaliDevice],
        *,
        scheduler: BusScheduler | None = None,
        transport: DaliTransport | None = None,
    ) -> None:
        self._name = name
        self._link = link
        self._devices: dict[str, DaliDevice] = {}
        for d in devices:
            if d.name in self._devices:
                raise ValueError(f"{name}: device {d.name!r} is listed twice")
            self._devices[d.name] = d
        self._plans = {d.name: plan_reads(d, link) for d in devices}
        self.scheduler = scheduler or BusScheduler(name, link.frame_gap_s)
        self.transport = transport or SerialLubaTransport(
            link.port,
            timeout_s=link.timeout_s,
            answer_timeout_s=link.answer_timeout_s,
            integrated_supply=link.integrated_supply,
            name=name,
        )
        self.last_read: dict[str, ReadStats] = {}
        self._noisy = False  # the last read saw bytes that were not LUBA messages

    @property
    def name(self) -> str:
        return self._name

    def devices(self) -> Sequence[str]:
        return tuple(self._devices)

    def plan(self, device: str) -> ReadPlan:
        return self._plans[self._device(device).name]

    async def read(self, device: str, *, priority: Priority = Priority.POLL) -> Sequence[PointValue]:
        dev = self._device(device)
        values: dict[str, PointValue] = {}
        tally = _Tally()
        noise = self.transport.stats.noise_bytes
        for i, tx in enumerate(self._plans[dev.name].transactions):
            async with self.scheduler.slot(priority):
                answers = await self._run(dev, tx, tally, probe=i == 0)
            values.update((v.point, v) for v in _values(tx, answers))
        self.last_read[dev.name] = ReadStats(requests=tally.frames, registers=tally.answers)
        self._check_noise(noise)
        return [values[p.name] for p in dev.points]

    async def write(self, device: str, point: str, value: Value) -> None:
        """DAPC: ``level`` to ``value`` percent of light, through the logarithmic dimming curve. A write
        the point cannot take is a :class:`WriteError`, raised before the line."""
        dev = self._devices.get(device)
        if dev is None:
            raise WriteError(f"no device {device!r} on {self._name}", device=device, point=point)
        if point != Quantity.LEVEL:
            reason = f"only {Quantity.LEVEL.value!r} can be written, not {point!r}"
            raise WriteError(reason, device=dev.name, point=point)
        try:
            arc = _arc(value)
        except ValueError as exc:
            raise WriteError(str(exc), device=dev.name, point=point) from exc
        await self._command(dev, general.DAPC(GearShort(dev.address), arc), f"DAPC {arc}")

    async def call(self, device: str, action: str, args: Mapping[str, Value]) -> Value:
        """One gear command (``action`` names a :class:`GearCommand`; DAPC takes ``level`` in %). A call
        the gear cannot take is a :class:`CallError`, raised before the line; returns None (the
        read-back is a read)."""
        dev = self._devices.get(device)
        if dev is None:
            raise CallError(f"no device {device!r} on {self._name}", device=device, action=action)
        try:
            command = GearCommand(action)
        except ValueError:
            known = ", ".join(GearCommand)
            reason = f"{action!r} is not a DALI gear command ({known})"
            raise CallError(reason, device=dev.name, action=action) from None
        if set(args) != set(GEAR_COMMAND_INPUTS[command]):
            wanted = sorted(GEAR_COMMAND_INPUTS[command]) or "no inputs"
            reason = f"{command.value} takes {wanted}, not {sorted(args)}"
            raise CallError(reason, device=dev.name, action=action)
        gear = GearShort(dev.address)
        match command:
            case GearCommand.DAPC:
                try:
                    arc = _arc(args["level"])
                except ValueError as exc:
                    raise CallError(f"level: {exc}", device=dev.name, action=action) from exc
                await self._command(dev, general.DAPC(gear, arc), f"DAPC {arc}")
            case GearCommand.OFF:
                await self._command(dev, general.Off(gear), "OFF")
            case GearCommand.RECALL_MAX_LEVEL:
                await self._command(dev, general.RecallMaxLevel(gear), "RECALL MAX LEVEL")
            case GearCommand.RECALL_MIN_LEVEL:
                await self._command(dev, general.RecallMinLevel(gear), "RECALL MIN LEVEL")
        return None

    async def store_level(self, device: str, which: StoredLevel, percent: float) -> int:
        """Store ``percent`` of light as the gear's ``which`` level; the arc level it reads back."""
        dev = self._device(device)
        arc = percent_to_arc(percent)
        store, query = STORE_COMMANDS[which]
        gear = GearShort(dev.address)
        async with self.scheduler.slot(Priority.COMMAND):
            await self._send(dev, frame(general.DTR0(arc), priority=COMMAND_PRIORITY, label=f"DTR0 {arc}"))
            await self._send(dev, frame(store(gear), label=f"{store.__name__} (DTR0 {arc})"))
            answer = await self._send(dev, frame(query(gear), label=query.__name__))
        if not isinstance(answer, int):
            raise DeviceUnreachable(f"{query.__name__}: {answer.value}", device=dev.name)
        return answer

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def _command(self, dev: DaliDevice, command: Any, label: str) -> None:
        """One forward frame to the gear, at IEC 62386-103 priority 2, ahead of queued polls."""
        async with self.scheduler.slot(Priority.COMMAND):
            await self._send(dev, frame(command, priority=COMMAND_PRIORITY, label=label))

    def _device(self, device: str) -> DaliDevice:
        try:
            return self._devices[device]
        except KeyError:
            raise ValueError(f"{self._name}: no device {device!r} on this line") from None

    async def _run(
        self, dev: DaliDevice, tx: Transaction, tally: _Tally, *, probe: bool
    ) -> dict[int | None, Answer]:
        """The frames of one transaction (the slot is held): location (None: a plain query) -> answer."""
        answers: dict[int | None, Answer] = {}
        reading = True
        for f in tx.frames:
            if not reading and not f.closing:
                continue
            answer = await self._send(dev, f)
            tally.frames += 1
            if not f.query:
                continue
            if probe and answer is Missing.NO_ANSWER:
                raise DeviceUnreachable(
                    f"short address {dev.address} did not answer {f.label}", device=dev.name
                )
            probe = False
            if answer is not Missing.NO_ANSWER:
                tally.answers += 1
            answers[f.location] = answer
            if tx.bank is not None and answer is Missing.NO_ANSWER:
                reading = False  # the bank, or the rest of it, is not there: unlatch and move on
        return answers

    async def _send(self, dev: DaliDevice, f: Frame) -> Answer:
        """One frame through the transport: the one place its failures become driver errors."""
        try:
            return await self.transport.send(f)
        except FrameRefused as exc:
            if exc.code == luba.TxError.BUS_VOLTAGE_ERROR:
                raise DeviceUnreachable(f"{exc}: the DALI bus has no power", device=dev.name) from exc
            raise DeviceError(str(exc), device=dev.name) from exc
        except InterfaceSilent as exc:
            raise DeviceUnreachable(str(exc), device=dev.name) from exc
        except LinkError as exc:  # LineGarbled, a bad handshake
            raise DeviceError(str(exc), device=dev.name) from exc
        except (serial.SerialException, OSError) as exc:
            raise DeviceUnreachable(f"serial port {self._link.port}: {exc}", device=dev.name) from exc

    def _check_noise(self, before: int) -> None:
        seen = self.transport.stats.noise_bytes - before
        if seen and not self._noisy:
            log.warning(
                "%s: %d stray byte(s) on %s (not LUBA messages); the read went through",
                self._name,
                seen,
                self._link.port,
            )
        elif seen:
            log.debug("%s: %d more stray byte(s) on %s", self._name, seen, self._link.port)
        self._noisy = bool(seen)


def _arc(percent: Value) -> int:
    """The arc level of ``percent`` of light (0 is off); ValueError when it is not a percentage."""
    if isinstance(percent, bool) or not isinstance(percent, int | float):
        raise ValueError(f"{percent!r} is not a percentage")
    return percent_to_arc(float(percent))  # ValueError outside 0..100


def _values(tx: Transaction, answers: Mapping[int | None, Answer]) -> list[PointValue]:
    out = []
    for p in tx.points:
        source = SOURCES[p.quantity]
        locations = source.locations if isinstance(source, MemorySource) else (None,)
        raw = bytearray()
        error = None
        for loc in locations:
            answer = answers.get(loc)
            if isinstance(answer, int):
                raw.append(answer)
                continue
            error = _missing(tx, p, loc, answer)
            break
        if error is None:
            try:
                out.append(PointValue(p.name, decode(p, bytes(raw))))
                continue
            except DecodeError as exc:
                error = exc.reason
        out.append(PointValue(p.name, None, error))
    return out


def _missing(tx: Transaction, p: DaliPoint, loc: int | None, answer: Missing | None) -> str:
    where = tx.describe() if loc is None else f"bank {tx.bank} location 0x{loc:02X}"
    if answer is Missing.FRAMING_ERROR:
        return f"framing error in the answer to {where}: several gear at one short address?"
    if answer is Missing.NO_ANSWER:
        more = "" if loc is None else " (bank or location not implemented?)"
        return f"no answer to {where}{more}"
    return f"not read: bank {tx.bank} stopped answering before location 0x{loc:02X}"
