"""Modbus RTU frames as a server on the line sees them, as pure functions: the CRC, the length of a
request from its first bytes, the requests the simulators serve and the answers they send.

::

    [unit] [function] [data ...] [CRC low] [CRC high]      CRC-16/MODBUS over unit..data

A server knows where a request ends from its function code (and, for the writes of several values, its
byte count), so it can hunt for the next frame in noise: a byte that cannot start a request with a good
CRC is dropped.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

MIN_FRAME = 4  # unit, function, CRC
READ_HOLDING, READ_INPUT, WRITE_SINGLE, WRITE_MULTIPLE = 3, 4, 6, 16
ILLEGAL_FUNCTION, ILLEGAL_VALUE = 1, 3
MAX_READ, MAX_WRITE = 125, 123  # registers per request (Modbus application protocol §6.3, §6.12)
# request length by function code, for the functions whose length is fixed
_FIXED = {1: 8, 2: 8, 3: 8, 4: 8, 5: 8, 6: 8, 7: 4, 8: 8, 11: 4, 12: 4, 17: 4, 22: 10}


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS (reflected polynomial 0xA001, initial value 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(frame: bytes) -> bytes:
    return frame + crc16(frame).to_bytes(2, "little")  # the low byte goes first on the wire


def crc_ok(frame: bytes) -> bool:
    return len(frame) >= MIN_FRAME and crc16(frame[:-2]) == int.from_bytes(frame[-2:], "little")


def request_size(head: bytes | bytearray) -> int | None:
    """The length of the request that starts at ``head[0]``: 0 while more bytes are needed to tell,
    None when ``head[1]`` is no function code a request can carry (so ``head[0]`` is noise)."""
    if len(head) < 2:
        return 0
    function = head[1]
    if function in _FIXED:
        return _FIXED[function]
    if function in (15, 16):
        return 9 + head[6] if len(head) > 6 else 0
    if function == 23:
        return 13 + head[10] if len(head) > 10 else 0
    return None


@dataclass(frozen=True, slots=True)
class Request:
    unit: int
    function: int
    data: bytes  # between the function code and the CRC

    @classmethod
    def parse(cls, frame: bytes) -> Request:
        return cls(frame[0], frame[1], bytes(frame[2:-2]))


class Refused(Exception):
    """A request answered with a Modbus exception ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def read_range(req: Request) -> tuple[int, int]:
    """(address, count) of an FC03/FC04 request."""
    address, count = struct.unpack(">HH", req.data[:4])
    if not 1 <= count <= MAX_READ:
        raise Refused(ILLEGAL_VALUE, f"read of {count} registers")
    return address, count


def write_values(req: Request) -> tuple[int, list[int]]:
    """(address, values) of an FC06 or FC16 request."""
    if req.function == WRITE_SINGLE:
        address, value = struct.unpack(">HH", req.data[:4])
        return address, [value]
    address, count, size = struct.unpack(">HHB", req.data[:5])
    if not 1 <= count <= MAX_WRITE or size != 2 * count or len(req.data) != 5 + size:
        raise Refused(ILLEGAL_VALUE, f"write of {count} registers in {size} bytes")
    return address, list(struct.unpack(f">{count}H", req.data[5:]))


def read_answer(req: Request, registers: Sequence[int]) -> bytes:
    body = struct.pack(f">BBB{len(registers)}H", req.unit, req.function, 2 * len(registers), *registers)
    return with_crc(body)


def write_answer(req: Request) -> bytes:
    """FC06 echoes the request; FC16 answers with its address and count."""
    return with_crc(bytes([req.unit, req.function]) + req.data[:4])


def exception_answer(req: Request, code: int) -> bytes:
    return with_crc(bytes([req.unit, req.function | 0x80, code]))
