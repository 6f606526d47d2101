"""The read plan of one control gear: which DALI frames read all its points, computed once from the
config, and what they cost on the bus.

A plan is a list of transactions (IEC 62386-101 §9.3: frames that go out back to back; nothing else may
touch DTR0/DTR1 in between). Plain queries first, one transaction each (QUERY STATUS; QUERY ACTUAL
LEVEL; ENABLE DEVICE TYPE 6 + QUERY FAILURE STATUS), then one transaction per memory bank:

    DTR1 bank · [ENABLE WRITE MEMORY ×2 · DTR0 2 · WRITE MEMORY LOCATION NO REPLY 0xAA]  (latch)
    DTR0 first · READ MEMORY LOCATION … (DTR0 counts up by itself; a hole is jumped with DTR0 when
    that costs less bus time than reading through it)
    [ENABLE WRITE MEMORY ×2 · DTR0 2 · WRITE MEMORY LOCATION NO REPLY 0xFF]              (unlatch)

The latch is python-dali's (``MemoryBank.read_all``: 0xAA to location 0x02 before, 0xFF after) and is set
only for a bank read holding a multi-byte value. One departure: before the unlatch we enable writing
again, since a gear clears writeEnableState on any command but DTR and memory writes (IEC 62386-102;
python-dali's own fake gear, ``dali/tests/fakes.py``, does the same).

Bus time (devices.md §1.7): a query and its answer ≈ ``query_spacing_s`` (≈ 50 ms), a frame without
an answer ≈ ``command_spacing_s`` (≈ 35 ms), twice for a send-twice frame. :func:`line_problems` refuses
a device that a poll interval cannot fit, and a line whose devices need more than the whole bus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dali.address import GearShort
from dali.gear import general

from drivers.dali.config import DaliDevice, DaliDeviceSpec, DaliPoint, DaliSerialLink, expand
from drivers.dali.points import SOURCES, MemorySource, QuerySource

LATCH_LOCATION = 0x02
LATCH = 0xAA
UNLATCH = 0xFF
POLL_PRIORITY = 5  # IEC 62386-103 §9.14 (as python-dali's send() uses it): periodic queries
IN_TRANSACTION = 1  # every frame after a transaction's first


@dataclass(frozen=True, slots=True)
class Frame:
    """One forward frame."""

    data: bytes  # 2 (or 3) bytes, as python-dali's ``frame.as_byte_sequence``
    label: str
    query: bool  # a backward frame may follow
    send_twice: bool = False
    priority: int = IN_TRANSACTION
    location: int | None = None  # READ MEMORY LOCATION: the location its answer holds
    closing: bool = False  # the unlatch: sent even when the reads stop early

    def bus_time(self, link: DaliSerialLink) -> float:
        if self.query:
            return link.query_spacing_s
        return link.command_spacing_s * (2 if self.send_twice else 1)


@dataclass(frozen=True, slots=True)
class Transaction:
    frames: tuple[Frame, ...]
    points: tuple[DaliPoint, ...]
    bank: int | None = None

    def describe(self) -> str:
        if self.bank is None:
            return self.frames[-1].label
        locations = [f.location for f in self.frames if f.location is not None]
        return f"bank {self.bank} 0x{min(locations):02X}..0x{max(locations):02X}"

    def bus_time(self, link: DaliSerialLink) -> float:
        return sum(f.bus_time(link) for f in self.frames)


@dataclass(frozen=True, slots=True)
class ReadPlan:
    device: DaliDevice
    transactions: tuple[Transaction, ...]

    @property
    def frames(self) -> tuple[Frame, ...]:
        return tuple(f for t in self.transactions for f in t.frames)

    @property
    def queries(self) -> int:
        return sum(f.query for f in self.frames)

    @property
    def commands(self) -> int:
        """Frames without an answer on the bus (a send-twice frame counts twice)."""
        return sum((2 if f.send_twice else 1) for f in self.frames if not f.query)

    def bus_time(self, link: DaliSerialLink) -> float:
        """Estimated DALI bus time of one read of the device."""
        return sum(t.bus_time(link) for t in self.transactions)


def frame(command: Any, *, priority: int = IN_TRANSACTION, label: str | None = None) -> Frame:
    """A :class:`Frame` from a python-dali command object."""
    return Frame(
        data=bytes(command.frame.as_byte_sequence),
        label=label or type(command).__name__,
        query=bool(command.is_query),
        send_twice=bool(command.sendtwice),
        priority=priority,
    )


def plan_reads(device: DaliDevice, link: DaliSerialLink, priority: int = POLL_PRIORITY) -> ReadPlan:
    addr = GearShort(device.address)
    transactions: list[Transaction] = []
    banks: dict[int, list[DaliPoint]] = {}
    for p in device.points:
        source = SOURCES[p.quantity]
        if isinstance(source, QuerySource):
            frames: list[Frame] = []
            if source.device_type:
                frames.append(frame(general.EnableDeviceType(source.device_type), priority=priority))
            frames.append(frame(source.command(addr), priority=IN_TRANSACTION if frames else priority))
            transactions.append(Transaction(tuple(frames), (p,)))
        else:
            banks.setdefault(source.bank, []).append(p)
    for bank in sorted(banks):
        transactions.append(
            _bank_read(addr, bank, banks[bank], latch=device.latch, link=link, priority=priority)
        )
    return ReadPlan(device, tuple(transactions))


def _bank_read(
    addr: Any, bank: int, points: list[DaliPoint], *, latch: bool, link: DaliSerialLink, priority: int
) -> Transaction:
    sources = [_memory(p) for p in points]
    locations = sorted({loc for s in sources for loc in s.locations})
    latch = latch and any(s.latchable and len(s.locations) > 1 for s in sources)
    frames = [frame(general.DTR1(bank), priority=priority)]
    dtr0: int | None = None
    if latch:
        frames += _latch_write(addr, LATCH, closing=False)
        dtr0 = LATCH_LOCATION + 1
    for loc in locations:
        if dtr0 is None or loc < dtr0 or (loc - dtr0) * link.query_spacing_s >= link.command_spacing_s:
            frames.append(frame(general.DTR0(loc)))
            dtr0 = loc
        while dtr0 <= loc:  # read through a short hole: cheaper than setting DTR0 again
            read = frame(general.ReadMemoryLocation(addr), label=f"ReadMemoryLocation {bank}:0x{dtr0:02X}")
            frames.append(_at(read, dtr0))
            dtr0 += 1
    if latch:
        frames += _latch_write(addr, UNLATCH, closing=True)
    return Transaction(tuple(frames), tuple(points), bank)


def _latch_write(addr: Any, value: int, *, closing: bool) -> list[Frame]:
    frames = [
        frame(general.EnableWriteMemory(addr)),
        frame(general.DTR0(LATCH_LOCATION)),
        frame(general.WriteMemoryLocationNoReply(value)),
    ]
    return [_closing(f) for f in frames] if closing else frames


def _at(f: Frame, location: int) -> Frame:
    return Frame(f.data, f.label, f.query, f.send_twice, f.priority, location, f.closing)


def _closing(f: Frame) -> Frame:
    return Frame(f.data, f.label, f.query, f.send_twice, f.priority, f.location, closing=True)


def _memory(p: DaliPoint) -> MemorySource:
    source = SOURCES[p.quantity]
    assert isinstance(source, MemorySource)
    return source


def line_problems(link: DaliSerialLink, specs: Sequence[DaliDeviceSpec]) -> list[str]:
    """Why the line cannot carry these devices at their poll intervals (empty: it can)."""
    problems = []
    load = 0.0
    for i, spec in enumerate(specs):
        for dev in expand(spec, f"devices[{i}]"):
            plan = plan_reads(dev, link)
            cost = plan.bus_time(link)
            load += cost / dev.poll_interval_s
            if cost > dev.poll_interval_s:
                problems.append(
                    f"devices[{i}] ({dev.name}).poll_interval_s: {dev.poll_interval_s:g} s is shorter than "
                    f"one read of its points (≈ {cost:.2f} s of DALI bus time: {plan.queries} queries, "
                    f"{plan.commands} frames without an answer)"
                )
                break  # the other gear of the spec cost the same
    if load > 1 and not problems:
        problems.append(
            f"devices: they need ≈ {100 * load:.0f} % of the DALI bus time at their poll intervals "
            "(one read of each per interval): lengthen poll_interval_s or split the line"
        )
    return problems
