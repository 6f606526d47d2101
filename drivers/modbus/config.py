"""What a Modbus point and device are: the YAML model (pydantic) and the resolved form (dataclasses).

Addresses are 0-based protocol addresses (as the Intesis map and pymodbus use them), not 4xxxx numbers.
A point is a number (``type`` with ``scale``/``offset``), a boolean (a coil, a discrete input or one
``bit`` of a register) or an enumeration (an integer ``type`` with ``enum: {0: unknown, 1: up}``: the
raw code becomes its label, and a code the map does not list is an error, never a bare number).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivers.enum_map import EnumMap
from drivers.errors import PointError
from drivers.profiles.device_actions import DeviceActions

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class Table(enum.StrEnum):
    HOLDING = "holding"  # FC03
    INPUT = "input"  # FC04
    COIL = "coil"  # FC01
    DISCRETE = "discrete"  # FC02


class DataType(enum.StrEnum):
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    FLOAT32 = "float32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT64 = "float64"
    BOOL = "bool"  # a coil or discrete input, or one bit of a register (with ``bit``)


WORDS = {
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.BOOL: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.FLOAT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT64: 4,
}


# the integer types and their ranges (the types an ``enum`` may map)
INTEGER_RANGES: dict[DataType, tuple[int, int]] = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}


class Order(enum.StrEnum):
    BIG = "big"
    LITTLE = "little"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModbusPointSpec(_Model):
    """One point as written in a config or profile."""

    name: Identifier
    # ``register`` in YAML; renamed in Python because BaseModel.register exists (ABC registration).
    reg: int | str = Field(alias="register", description="0-based address, or an expression over params")
    table: Table = Table.HOLDING
    type: DataType = DataType.UINT16
    word_order: Order | None = None  # None: the device's default
    byte_order: Order | None = None
    bit: int | None = Field(default=None, ge=0, le=15)
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    unavailable: tuple[int, ...] = Field(
        default=(), description="raw values that mean 'not available' (DALI MASK/TMASK): quality BAD"
    )
    enum: EnumMap | None = Field(
        default=None, description="raw code -> label ({0: unknown, 1: up}); a code not listed is an error"
    )

    @model_validator(mode="after")
    def _bit_fits(self) -> ModbusPointSpec:
        bit_table = self.table in (Table.COIL, Table.DISCRETE)
        if self.bit is not None and (self.type is not DataType.BOOL or bit_table):
            raise ValueError("bit is only for type bool in a holding or input register")
        if self.table in (Table.COIL, Table.DISCRETE) and self.type is not DataType.BOOL:
            raise ValueError(f"a {self.table.value} point must have type bool")
        return self

    @model_validator(mode="after")
    def _enum_fits(self) -> ModbusPointSpec:
        if self.enum is None:
            return self
        if self.type not in INTEGER_RANGES:
            raise ValueError(f"enum is only for integer types, not {self.type.value}")
        if self.scale != 1 or self.offset != 0:
            raise ValueError("enum maps raw codes: it cannot be combined with scale or offset")
        lo, hi = INTEGER_RANGES[self.type]
        for code in self.enum:
            if not lo <= code <= hi:
                raise ValueError(f"enum code {code} does not fit a {self.type.value} ({lo}..{hi})")
        return self


@dataclass(frozen=True, slots=True)
class ModbusPoint:
    """A point with its address resolved: what the planner and the codec work on."""

    name: str
    table: Table
    address: int
    type: DataType
    word_order: Order = Order.BIG
    byte_order: Order = Order.BIG
    bit: int | None = None
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    unavailable: tuple[int, ...] = ()
    enum: tuple[tuple[int, str], ...] = ()  # (code, label) pairs, codes ascending; () = a plain number

    @property
    def words(self) -> int:
        if self.table in (Table.COIL, Table.DISCRETE):
            return 1
        return WORDS[self.type]

    @property
    def end(self) -> int:
        """One past the last address this point occupies."""
        return self.address + self.words


@dataclass(frozen=True, slots=True)
class ModbusDevice:
    name: str
    unit: int
    poll_interval_s: float
    points: tuple[ModbusPoint, ...]
    timeout_s: float | None = None  # None: the link's timeout_s
    actions: DeviceActions | None = None  # from its profile's ``actions:``; None: it takes no command


class ModbusTcpLink(_Model):
    kind: Literal["modbus_tcp"]
    host: str
    port: int = Field(default=502, ge=1, le=65535)
    timeout_s: float = Field(default=1.0, gt=0, le=60)
    retries: int = Field(
        default=0, ge=0, le=5, description="further attempts of a read that got no answer (TCP retransmits)"
    )
    max_registers: int = Field(default=125, ge=1, le=125, description="per read request (Modbus limit 125)")
    max_gap: int = Field(default=16, ge=0, le=124, description="unused registers a request may span")
    inter_frame_gap_s: float = Field(
        default=0.0, ge=0, le=1, description="silence between two requests (some TCP-to-RTU gateways need it)"
    )

    @property
    def frame_gap_s(self) -> float:
        return self.inter_frame_gap_s


class Parity(enum.StrEnum):
    NONE = "N"
    EVEN = "E"
    ODD = "O"


BaudRate = Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]
FAST_LINE_GAP_S = 0.00175  # Modbus over serial line §2.5.1.1: fixed t3.5 above 19200 baud


class ModbusRtuLink(_Model):
    """A serial line (RS-485) with Modbus RTU devices on it. Defaults are the Modbus serial-line
    spec's: 19200 baud, 8 data bits, even parity, 1 stop bit."""

    kind: Literal["modbus_rtu"]
    port: str = Field(min_length=1, description="serial device: /dev/ttyUSB0, /dev/serial/by-id/...")
    baudrate: BaudRate = 19200
    bytesize: Literal[8] = Field(default=8, description="RTU frames carry 8-bit characters")
    parity: Parity = Parity.EVEN
    stopbits: Literal[1, 2] = 1
    timeout_s: float = Field(default=1.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=5, description="further attempts of a read that got no answer")
    max_registers: int = Field(default=125, ge=1, le=125, description="per read request (Modbus limit 125)")
    max_gap: int = Field(default=16, ge=0, le=124, description="unused registers a request may span")
    inter_frame_gap_s: float | None = Field(
        default=None, ge=0, le=1, description="silence between frames; default 3.5 character times"
    )

    @property
    def char_time_s(self) -> float:
        """One character on the wire: start bit, 8 data bits, parity bit if any, stop bits."""
        bits = 1 + self.bytesize + (self.parity is not Parity.NONE) + self.stopbits
        return bits / self.baudrate

    @property
    def frame_gap_s(self) -> float:
        """The silent interval between two frames: 3.5 characters, or 1.75 ms above 19200 baud."""
        if self.inter_frame_gap_s is not None:
            return self.inter_frame_gap_s
        return FAST_LINE_GAP_S if self.baudrate > 19200 else 3.5 * self.char_time_s


def resolve_points(
    specs: tuple[ModbusPointSpec, ...],
    params: dict[str, int],
    word_order: Order = Order.BIG,
    byte_order: Order = Order.BIG,
) -> tuple[ModbusPoint, ...]:
    """Evaluate register expressions and check that points neither collide nor leave the address space.

    Two points may share a register when both are different bits of it (a status bitfield), or when one
    is a bit of it and the other reads it whole (``status`` as a number, ``lamp_failure`` as its bit 1):
    the register is read once for both. Anything else that overlaps is refused.
    """
    from drivers.profiles.expr import evaluate

    points: list[ModbusPoint] = []
    names: dict[str, int] = {}
    for i, s in enumerate(specs):
        if s.name in names:
            raise PointError(i, "name", f"duplicate point name {s.name!r} (also points[{names[s.name]}])")
        names[s.name] = i
        try:
            address = evaluate(s.reg, params)
        except ValueError as exc:
            raise PointError(i, "register", str(exc)) from None
        p = ModbusPoint(
            name=s.name,
            table=s.table,
            address=address,
            type=s.type,
            word_order=s.word_order or word_order,
            byte_order=s.byte_order or byte_order,
            bit=s.bit,
            scale=s.scale,
            offset=s.offset,
            unit=s.unit,
            unavailable=s.unavailable,
            enum=tuple(sorted(s.enum.items())) if s.enum else (),
        )
        if p.address < 0 or p.end > 65536:
            raise PointError(i, "register", f"address {p.address} (+{p.words} words) is outside 0..65535")
        for j, q in enumerate(points):
            if q.table is p.table and q.address < p.end and p.address < q.end and not _may_share(p, q):
                raise PointError(
                    i, "register", f"{p.table.value} {p.address} overlaps {q.name} (points[{j}], {q.address})"
                )
        points.append(p)
    return tuple(points)


def _may_share(p: ModbusPoint, q: ModbusPoint) -> bool:
    """Two points on one register that each read their own part of it (see :func:`resolve_points`)."""
    if p.bit is not None and q.bit is not None:
        return p.bit != q.bit
    bit, whole = (p, q) if p.bit is not None else (q, p)
    return bit.bit is not None and whole.bit is None and whole.words == 1 and whole.address == bit.address
