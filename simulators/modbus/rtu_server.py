"""A set of Modbus RTU slave units on one end of a serial line, served from a tty file descriptor: a
real serial port, or the master side of a pseudo-terminal whose other side a client opens like any
serial port (:class:`Pty`). Real frames on a real tty; the frame codec is :mod:`simulators.modbus.rtu_frame`.

A unit answers only requests addressed to it (FC03/FC04 reads and FC06/FC16 writes of holding
registers, through its :class:`RegisterMap`; other functions are an illegal function). A unit id
nobody serves stays silent, as on a real bus; so does a unit in ``silent`` (a dead device). Faults to
inject: a unit in ``exceptions`` answers every request with that exception code, one in ``corrupt``
answers with a broken CRC (a disturbed frame), one in ``noise_before`` has those bytes put on the line
just before its next answer (once). Unit 0 is broadcast: writes go to every unit, nobody answers.

The line is paced as a wire would be: an answer leaves once the request and the answer would have
been transmitted at ``baudrate`` (``char_bits`` per character) plus the unit's ``turnaround_s``,
counted from the request's first byte. A pty carries bytes at once, so without this every answer would
come back instantly.

Recorded for tests: ``events`` (one :class:`LineEvent` per request frame: unit, function, first and last
byte, when the answer left), ``collisions`` (bytes that arrived while a unit was answering: two
transmitters on the line at once) and ``noise_bytes`` (bytes dropped while hunting for a frame).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import tty
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from simulators.modbus.rtu_frame import (
    ILLEGAL_FUNCTION,
    MIN_FRAME,
    READ_HOLDING,
    READ_INPUT,
    WRITE_MULTIPLE,
    WRITE_SINGLE,
    Refused,
    Request,
    crc_ok,
    exception_answer,
    read_answer,
    read_range,
    request_size,
    write_answer,
    write_values,
)

STALE_S = 0.02  # an incomplete frame with no byte for this long is noise (generous: a pty on a busy host)


class RegisterMap(Protocol):
    """The holding registers of one unit; a refusal raises an exception with a Modbus ``code``."""

    def read(self, address: int, count: int) -> list[int]: ...

    def write(self, address: int, values: Sequence[int]) -> None: ...


@runtime_checkable
class _Coded(Protocol):
    code: int


@dataclass(slots=True)
class LineEvent:
    """One request frame seen on the line, and its answer (times in ``now()`` seconds)."""

    unit: int
    function: int
    start: float  # first byte of the request
    end: float  # last byte of the request
    answered: float | None = None  # the whole answer written; None: no answer
    exception: int | None = None  # the exception code answered, if any


class RtuServer:
    def __init__(
        self,
        units: Mapping[int, RegisterMap],
        *,
        baudrate: int = 19200,
        char_bits: int = 11,
        turnaround_s: float = 0.001,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.units = dict(units)
        self.silent: set[int] = set()
        self.exceptions: dict[int, int] = {}
        self.corrupt: set[int] = set()
        self.noise_before: dict[int, bytes] = {}
        self.char_s = char_bits / baudrate
        self.turnaround_s = turnaround_s
        self.events: list[LineEvent] = []
        self.collisions = 0
        self.noise_bytes = 0
        self._now = now
        self._fd: int | None = None
        self._buf = bytearray()
        self._first = self._last = 0.0  # arrival of the oldest and of the newest byte in _buf
        self._answering: asyncio.TimerHandle | None = None
        self._stale: asyncio.TimerHandle | None = None

    def attach(self, fd: int) -> None:
        """Serve the line behind ``fd`` (left open by :meth:`detach`: the caller owns it)."""
        if self._fd is not None:
            raise RuntimeError("the server is already attached to a line")
        os.set_blocking(fd, False)
        asyncio.get_running_loop().add_reader(fd, self._readable)
        self._fd = fd

    def detach(self) -> None:
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            self._fd = None
        for handle in (self._answering, self._stale):
            if handle is not None:
                handle.cancel()
        self._answering = self._stale = None

    def inject_noise(self, data: bytes) -> None:
        """Put bytes on the line towards the client, as a disturbance would."""
        if self._fd is None:
            raise RuntimeError("the server is not attached to a line")
        os.write(self._fd, data)

    def _readable(self) -> None:
        assert self._fd is not None
        try:
            data = os.read(self._fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # the other side is gone (EIO): nothing more will come
            self.detach()
            return
        now = self._now()
        if self._answering is not None:
            self.collisions += 1
        if not self._buf:
            self._first = now
        self._buf += data
        self._last = now
        self._parse(stale=False)

    def _parse(self, *, stale: bool) -> None:
        """Serve every whole request in the buffer; drop what cannot start one."""
        if self._stale is not None:
            self._stale.cancel()
            self._stale = None
        while self._buf and self._answering is None:
            size = request_size(self._buf)
            if size is not None and MIN_FRAME <= size <= len(self._buf):
                frame = bytes(self._buf[:size])
                if crc_ok(frame):
                    del self._buf[:size]
                    self._serve(Request.parse(frame), self._first, self._last)
                    self._first = self._last
                    continue
            elif size is not None and not stale:  # a request may still be arriving
                self._stale = asyncio.get_running_loop().call_later(STALE_S, self._drop_stale)
                return
            del self._buf[0]
            self.noise_bytes += 1
            self._first = self._last

    def _drop_stale(self) -> None:
        self._stale = None
        self._parse(stale=True)

    def _serve(self, req: Request, start: float, end: float) -> None:
        event = LineEvent(req.unit, req.function, start, end)
        self.events.append(event)
        if req.unit == 0:
            if req.function in (WRITE_SINGLE, WRITE_MULTIPLE):
                for unit in self.units.values():
                    self._answer(req, unit)
            return
        registers = self.units.get(req.unit)
        if registers is None or req.unit in self.silent:
            return
        if req.unit in self.exceptions:
            answer = exception_answer(req, self.exceptions[req.unit])
        else:
            answer = self._answer(req, registers)
        if answer[1] & 0x80:
            event.exception = answer[2]
        if req.unit in self.corrupt:
            answer = answer[:-1] + bytes([answer[-1] ^ 0xFF])
        answer = self.noise_before.pop(req.unit, b"") + answer
        # the answer's last byte leaves after the request's, the turnaround and its own characters
        done = start + self.char_s * (_request_chars(req) + len(answer)) + self.turnaround_s
        self._answering = asyncio.get_running_loop().call_later(
            max(0.0, done - self._now()), self._send, answer, event
        )

    def _answer(self, req: Request, registers: RegisterMap) -> bytes:
        try:
            if req.function in (READ_HOLDING, READ_INPUT):
                address, count = read_range(req)
                return read_answer(req, registers.read(address, count))
            if req.function in (WRITE_SINGLE, WRITE_MULTIPLE):
                address, values = write_values(req)
                registers.write(address, values)
                return write_answer(req)
            raise Refused(ILLEGAL_FUNCTION, f"function {req.function}")
        except Exception as exc:
            if isinstance(exc, _Coded):
                return exception_answer(req, exc.code)
            raise

    def _send(self, answer: bytes, event: LineEvent) -> None:
        self._answering = None
        if self._fd is None:
            return
        os.write(self._fd, answer)
        event.answered = self._now()
        self._parse(stale=False)


def _request_chars(req: Request) -> int:
    return len(req.data) + MIN_FRAME


class Pty:
    """A pseudo-terminal pair standing in for an RS-485 line: a server serves ``master``; a client opens
    ``path`` like a serial port. The slave side stays open here too, so a client may close and reopen
    the port without the master seeing a hang-up; writing to it puts bytes on the line towards the
    server (:meth:`noise_to_server`).

    A pty carries no parity bit: a client must open it with parity N (pyserial's second termios
    call fails with EINVAL when it asks for E or O).
    """

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        for fd in (self.master, self._slave):
            tty.setraw(fd)
        self.path = os.ttyname(self._slave)

    def noise_to_server(self, data: bytes) -> None:
        os.write(self._slave, data)

    def close(self) -> None:
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
