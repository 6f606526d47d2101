"""Requests as pymodbus calls, responses as point values: the two translations the client needs, with no
I/O of their own (a call is built here and awaited in ``client.py``).

``values(request, response)`` gives one :class:`PointValue` per point of the request: an exception
response or a short answer marks every point of the request with the reason; a point that does not
decode marks that point only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU

from drivers.base import PointValue, Value
from drivers.errors import DecodeError
from drivers.modbus.codec import decode, decode_bits
from drivers.modbus.config import ModbusPoint, Table
from drivers.modbus.plan import ReadRequest

Client = ModbusClientMixin[Awaitable[ModbusPDU]]
Call = Callable[[Client], Awaitable[ModbusPDU]]


def read_call(req: ReadRequest, unit: int) -> Call:
    def call(c: Client) -> Awaitable[ModbusPDU]:
        match req.table:
            case Table.HOLDING:
                return c.read_holding_registers(req.address, count=req.count, device_id=unit)
            case Table.INPUT:
                return c.read_input_registers(req.address, count=req.count, device_id=unit)
            case Table.COIL:
                return c.read_coils(req.address, count=req.count, device_id=unit)
            case Table.DISCRETE:
                return c.read_discrete_inputs(req.address, count=req.count, device_id=unit)

    return call


def write_call(p: ModbusPoint, words: list[int], unit: int) -> Call:
    def call(c: Client) -> Awaitable[ModbusPDU]:
        if p.table is Table.COIL:
            return c.write_coil(p.address, bool(words[0]), device_id=unit)
        if len(words) == 1:
            return c.write_register(p.address, words[0], device_id=unit)
        return c.write_registers(p.address, words, device_id=unit)

    return call


def registers_call(address: int, words: list[int], unit: int) -> Call:
    """FC16, whatever the count: a mailbox's registers arrive in one request."""

    def call(c: Client) -> Awaitable[ModbusPDU]:
        return c.write_registers(address, words, device_id=unit)

    return call


def values(req: ReadRequest, response: ModbusPDU) -> list[PointValue]:
    """One value (or error) per point of the request."""
    if response.isError():
        reason = f"{exception_text(response.exception_code)} reading {req.describe()}"
        return [PointValue(p.name, None, reason) for p in req.points]
    bits = req.table in (Table.COIL, Table.DISCRETE)
    received = len(response.bits) if bits else len(response.registers)
    if received < req.count:
        reason = f"short response: {received} of {req.count} reading {req.describe()}"
        return [PointValue(p.name, None, reason) for p in req.points]
    out = []
    for p in req.points:
        i = p.address - req.address
        try:
            if bits:
                value: Value = decode_bits(p, response.bits[i : i + 1])
            else:
                value = decode(p, response.registers[i : i + p.words])
        except DecodeError as exc:
            out.append(PointValue(p.name, None, exc.reason))
        else:
            out.append(PointValue(p.name, value))
    return out


def exception_text(code: int) -> str:
    """``modbus exception 2 (illegal address)``."""
    try:
        name = ExcCodes(code).name.lower().replace("_", " ")
    except ValueError:
        name = "unknown"
    return f"modbus exception {code} ({name})"
