"""The simulator's RTU side: the frame codec (pure) and the server answering raw frames on a pty."""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.framer import FramerRTU

from simulators.luminaire.line import LuminaireLine
from simulators.modbus.rtu_frame import Refused, Request, crc16, crc_ok, request_size, with_crc, write_values


def test_crc_of_the_spec_example() -> None:
    assert with_crc(bytes.fromhex("01030000000A")).hex() == "01030000000ac5cd"


@given(st.binary(min_size=2, max_size=256))
def test_crc_agrees_with_pymodbus(data: bytes) -> None:
    assert with_crc(data)[-2:] == FramerRTU.compute_CRC(data).to_bytes(2, "big")
    assert crc_ok(with_crc(data))
    assert crc16(data) == int.from_bytes(with_crc(data)[-2:], "little")


@pytest.mark.parametrize(
    ("head", "size"),
    [
        ("01", 0),
        ("0103", 8),
        ("0106", 8),
        ("011000", 0),
        ("01100005000204", 13),
        ("0111", 4),
        ("0117000000010000000102", 15),
        ("0141", None),
        ("0190", None),  # an exception answer is no request
    ],
)
def test_request_size(head: str, size: int | None) -> None:
    assert request_size(bytes.fromhex(head)) == size


def test_write_values_of_fc06_and_fc16() -> None:
    assert write_values(Request(1, 6, bytes.fromhex("000f0032"))) == (15, [50])
    data = struct.pack(">HHBHH", 100, 2, 4, 1, 0xFFFF)
    assert write_values(Request(1, 16, data)) == (100, [1, 0xFFFF])
    with pytest.raises(Refused, match="write of 2 registers in 3 bytes") as err:
        write_values(Request(1, 16, struct.pack(">HHB", 100, 2, 3) + b"\x00\x01\x02"))
    assert err.value.code == 3


@pytest.fixture
async def raw_line() -> AsyncIterator[tuple[LuminaireLine, int]]:
    async with LuminaireLine((1, 2), count=2, turnaround_ms=0) as line:
        fd = os.open(line.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            yield line, fd
        finally:
            os.close(fd)


async def exchange(fd: int, frame: bytes, expect: int, timeout: float = 1.0) -> bytes:
    os.write(fd, frame)
    got = b""
    async with asyncio.timeout(timeout):
        while len(got) < expect:
            await asyncio.sleep(0.002)
            try:
                got += os.read(fd, 256)
            except BlockingIOError:
                continue
    return got


async def test_a_read_through_noise(raw_line: tuple[LuminaireLine, int]) -> None:
    line, fd = raw_line
    request = with_crc(struct.pack(">BBHH", 2, 3, 106, 1))  # unit 2, level of sa 1
    answer = await exchange(fd, b"\x10\x99\x02" + request, 7)
    assert answer == with_crc(bytes([2, 3, 2, 0, 100]))
    assert line.server.noise_bytes == 3
    assert [(e.unit, e.function, e.exception) for e in line.server.events] == [(2, 3, None)]


async def test_refusals_and_writes(raw_line: tuple[LuminaireLine, int]) -> None:
    line, fd = raw_line
    coils = with_crc(struct.pack(">BBHH", 1, 1, 0, 8))
    assert await exchange(fd, coils, 5) == with_crc(bytes([1, 0x81, 1]))  # illegal function
    too_many = with_crc(struct.pack(">BBHH", 1, 3, 0, 126))
    assert await exchange(fd, too_many, 5) == with_crc(bytes([1, 0x83, 3]))  # illegal value
    setpoint = with_crc(struct.pack(">BBHHBH", 1, 16, 115, 1, 2, 0))  # sa 1 off
    assert await exchange(fd, setpoint, 8) == with_crc(struct.pack(">BBHH", 1, 16, 115, 1))
    assert line.gateway(1).luminaires[1].state().target_arc == 0
    broadcast = with_crc(struct.pack(">BBHH", 0, 6, 15, 0))  # every sa 0 off, nobody answers
    with pytest.raises(TimeoutError):
        await exchange(fd, broadcast, 1, timeout=0.1)
    assert [line.gateway(u).luminaires[0].state().target_arc for u in (1, 2)] == [0, 0]
    assert [e.exception for e in line.server.events] == [1, 3, None, None]
