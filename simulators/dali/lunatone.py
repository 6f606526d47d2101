"""``sim-dali-serial``: a Lunatone LUBA RS232 DALI interface with N control gear on its bus, served on a
serial port or on a pseudo-terminal it creates (a client opens :attr:`path` like any serial port, 38400
8N1). It speaks the interface's side of the LUBA protocol (:mod:`drivers.dali.luba`) as python-dali's
``DriverLubaRs232`` expects it; a test runs python-dali's own driver against it.

Messages served: QUERY DEVICE INFO (article 24166096, one python-dali was tested with), READ/WRITE
SETTINGS (echoed; the event filter's "no events", "no frame-sent events" and "no frame-received
events" bits are honoured), READ STATUS (bit 7: no bus voltage), ADD DALI FRAME TO TX BUFFER
(accepted with a frame id, or refused: line not 0 or a bad frame is a syntax error, an unpowered bus a
bus voltage error). Other commands get no reply.

The bus is paced as a DALI line would be: a query with its answer takes ``query_ms``, a frame without
one ``command_ms`` (twice for a send-twice frame), one after the other. Of that time the forward frame
takes the first third (the frame-sent event), the answer comes at three quarters (the frame-received
event). At 0 ms everything is answered at once. Replies leave in order from one writer task.

::

    async with DaliSerialSim(count=4, query_ms=50) as sim:   # a new pty, gear at short addresses 0..3
        sim.path; sim.gear(2).luminaire.inject(Fault.LAMP); sim.gear(3).silent = True
        sim.inject_noise(b"\\x00\\xff"); sim.garble = True   # bytes that are not LUBA messages
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from drivers.dali import luba
from simulators.dali.bus import Clash, SimBus, SimGear
from simulators.luminaire.bank import NOMINAL_W
from simulators.luminaire.model import Luminaire
from simulators.modbus.rtu_server import Pty
from simulators.served import Served

ARTICLE = 24166096  # in python-dali's DriverLubaRs232.TESTED_ARTICLE_NUMBERS
SENT_AT = 0.33  # share of a frame's bus time before the frame-sent event
ANSWER_AT = 0.75  # share of a query's bus time before its answer arrives
_NO_EVENTS, _NO_SENT, _NO_RECEIVED = 0x80, 0x40, 0x20  # event filter bits (python-dali's comments)


@dataclass(slots=True)
class BusFrame:
    """One forward frame the simulated bus carried (times in loop seconds)."""

    data: bytes
    command: str  # python-dali's name for it
    answer: int | Clash | None
    start: float
    end: float


class DaliSerialSim(Served):
    def __init__(
        self,
        count: int = 1,
        *,
        gear: Iterable[SimGear] | None = None,
        query_ms: float = 0.0,
        command_ms: float | None = None,
        now: Callable[[], float] = time.monotonic,
        seed: int = 0,
    ) -> None:
        if gear is None:
            rng = random.Random(seed)
            gear = [
                SimGear(sa, Luminaire(rng.choice(NOMINAL_W), now, random.Random(rng.getrandbits(64))))
                for sa in range(count)
            ]
        self.bus = SimBus(gear)
        self.query_s = query_ms / 1000
        self.command_s = (0.7 * query_ms if command_ms is None else command_ms) / 1000
        self.bus_powered = True
        self.garble = False  # replies leave as bytes that are not LUBA messages (a wrong baud rate)
        self.frames: list[BusFrame] = []
        self.path = ""
        self._settings = bytes([0, 0, 0])
        self._parser = luba.MessageParser(min_length=0)
        self._ids = itertools.cycle(range(256))
        self._bus_free = 0.0
        self._out: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        self._fd: int | None = None
        self._pty: Pty | None = None
        self._port: Any = None  # a pyserial Serial when serving a real port
        self._writer: asyncio.Task[None] | None = None

    def gear(self, sa: int) -> SimGear:
        return self.bus.by_address(sa)

    async def start(self, port: str | None = None) -> None:
        """Serve ``port`` (a serial device), or a new pseudo-terminal when None."""
        if self._fd is not None:
            raise RuntimeError("the simulator is already running")
        if port is None:
            self._pty = Pty()
            self.path, fd = self._pty.path, self._pty.master
        else:
            import serial  # pyserial: opens and configures a real port

            self._port = serial.Serial(
                port, baudrate=luba.BAUDRATE, timeout=0, write_timeout=0, exclusive=True
            )
            self.path, fd = port, self._port.fileno()
        os.set_blocking(fd, False)
        loop = asyncio.get_running_loop()
        loop.add_reader(fd, self._readable)
        self._fd = fd
        self._bus_free = loop.time()
        self._writer = asyncio.create_task(self._write_replies(), name="sim-dali-serial-writer")

    async def stop(self) -> None:
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            self._fd = None
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        if self._pty is not None:
            self._pty.close()
            self._pty = None
        if self._port is not None:
            self._port.close()
            self._port = None

    def inject_noise(self, data: bytes) -> None:
        """Put bytes on the line towards the client, as a disturbance would."""
        if self._fd is None:
            raise RuntimeError("the simulator is not running")
        os.write(self._fd, data)

    def _readable(self) -> None:
        assert self._fd is not None
        try:
            data = os.read(self._fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # the other side is gone (EIO on a pty): nothing more will come
            asyncio.get_running_loop().remove_reader(self._fd)
            return
        for msg in self._parser.feed(data):
            self._serve(msg)

    def _serve(self, msg: luba.Message) -> None:
        now = asyncio.get_running_loop().time()
        match msg.command:
            case luba.Command.QUERY_DEVICE_INFO:
                self._reply(now, luba.DeviceInfo(0, 1, 1, 1, ARTICLE).encode())
            case luba.Command.READ_WRITE_SETTINGS:
                if len(msg.payload) == 3:
                    self._settings = msg.payload
                self._reply(now, luba.encode(luba.Command.READ_WRITE_SETTINGS_RSP, self._settings))
            case luba.Command.READ_STATUS:
                status = 0 if self.bus_powered else 0x80
                payload = bytes([0, *_tick(now).to_bytes(2, "big"), 0, 0, status])
                self._reply(now, luba.encode(luba.Command.READ_STATUS_RSP, payload))
            case luba.Command.ADD_DALI_FRAME:
                self._add_frame(now, msg.payload)

    def _add_frame(self, now: float, payload: bytes) -> None:
        try:
            req = luba.FrameRequest.parse(payload)
        except ValueError:
            return self._refuse(now, luba.TxError.SYNTAX_ERROR)
        if req.line != 0:
            return self._refuse(now, luba.TxError.LINE_NOT_AVAILABLE)
        if not self.bus_powered:
            return self._refuse(now, luba.TxError.BUS_VOLTAGE_ERROR)
        frame_id = next(self._ids)
        self._reply(now, luba.encode(luba.Command.ADD_DALI_FRAME_RSP, bytes([frame_id, 0])))
        events = self._settings[1]
        for _ in range(2 if req.send_twice else 1):
            cmd, answer = self.bus.transmit(req.frame)
            took = self.query_s if cmd.is_query else self.command_s
            start = max(now, self._bus_free)
            self._bus_free = start + took
            self.frames.append(BusFrame(req.frame, type(cmd).__name__, answer, start, start + took))
            if not events & (_NO_EVENTS | _NO_SENT):
                sent = start + SENT_AT * took
                self._reply(sent, luba.sent_event(_tick(sent), frame_id, req.frame).encode())
            if answer is not None and not events & (_NO_EVENTS | _NO_RECEIVED):
                at = start + ANSWER_AT * took
                back = None if answer is Clash.FRAMING_ERROR else bytes([answer])
                self._reply(at, luba.received_event(_tick(at), back).encode())
        return None

    def _refuse(self, now: float, error: luba.TxError) -> None:
        self._reply(now, luba.encode(luba.Command.ADD_DALI_FRAME_RSP, bytes([error])))

    def _reply(self, due: float, data: bytes) -> None:
        self._out.put_nowait((due, data))

    async def _write_replies(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, data = await self._out.get()
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            if self._fd is None:
                continue
            if self.garble:
                data = bytes((b >> 1) | 0x80 for b in data)  # never a 0x59: no message can start
            os.write(self._fd, data)


def _tick(t: float) -> int:
    return int(t * 1000) & 0xFFFF
