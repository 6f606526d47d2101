"""``sim-dali-gw`` on an RS-485 line: one DALI-to-Modbus gateway per unit id (each a
:class:`DaliGateway` with its own bank of luminaires, the same register map as the TCP simulator),
served as Modbus RTU by :class:`RtuServer` on a serial port or on a pseudo-terminal it creates.

::

    async with LuminaireLine(units=range(1, 21), count=1, baudrate=19200) as line:   # a new pty
        line.path                     # the port a client opens (/dev/pts/N), parity N
        line.server.silent.add(7)     # unit 7 stops answering; line.server.events: the line's log
        line.gateway(3).luminaires[0].inject(Fault.LAMP)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from simulators.luminaire.bank import NOMINAL_W
from simulators.luminaire.gateway import DaliGateway
from simulators.luminaire.model import Luminaire
from simulators.modbus.rtu_server import Pty, RtuServer
from simulators.served import Served

PARITY_BITS = {"N": 0, "E": 1, "O": 1}


class LuminaireLine(Served):
    def __init__(
        self,
        units: Iterable[int],
        count: int = 1,
        *,
        channel: int = 0,
        baudrate: int = 19200,
        parity: str = "N",
        stopbits: int = 1,
        turnaround_ms: float = 1.0,
        now: Callable[[], float] = time.monotonic,
        seed: int = 0,
    ) -> None:
        rng = random.Random(seed)
        self.gateways: dict[int, DaliGateway] = {}
        for unit in units:
            if not 1 <= unit <= 247:
                raise ValueError(f"unit id {unit} is not 1..247")
            luminaires = [
                Luminaire(rng.choice(NOMINAL_W), now, random.Random(rng.getrandbits(64)))
                for _ in range(count)
            ]
            self.gateways[unit] = DaliGateway(luminaires, channel)
        if parity not in PARITY_BITS:
            raise ValueError(f"parity must be N, E or O, got {parity!r}")
        self.baudrate, self.parity, self.stopbits = baudrate, parity, stopbits
        self.server = RtuServer(
            self.gateways,
            baudrate=baudrate,
            char_bits=1 + 8 + PARITY_BITS[parity] + stopbits,
            turnaround_s=turnaround_ms / 1000,
        )
        self.path = ""
        self._pty: Pty | None = None
        self._port: Any = None  # a pyserial Serial when serving a real port

    def gateway(self, unit: int) -> DaliGateway:
        return self.gateways[unit]

    async def start(self, port: str | None = None) -> None:
        """Serve ``port`` (a serial device), or a new pseudo-terminal when None."""
        if port is None:
            self._pty = Pty()
            self.path = self._pty.path
            self.server.attach(self._pty.master)
            return
        import serial  # pyserial: opens and configures a real port, non-blocking

        self._port = serial.Serial(
            port,
            baudrate=self.baudrate,
            bytesize=8,
            parity=self.parity,
            stopbits=self.stopbits,
            timeout=0,
            write_timeout=0,
            exclusive=True,
        )
        self.path = port
        self.server.attach(self._port.fileno())

    async def stop(self) -> None:
        self.server.detach()
        if self._pty is not None:
            self._pty.close()
            self._pty = None
        if self._port is not None:
            self._port.close()
            self._port = None

    def noise_to_server(self, data: bytes) -> None:
        """Put bytes on the line towards the units (a pty only: they come from the client's side)."""
        if self._pty is None:
            raise RuntimeError("noise towards the server needs the simulator's own pty")
        self._pty.noise_to_server(data)
