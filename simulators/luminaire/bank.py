"""``sim-dali-gw`` as a real Modbus TCP server: a :class:`DaliGateway` with N luminaires behind pymodbus.

pymodbus 3.16 serves a ``SimDevice`` (``SimData`` blocks, unit id 1) and calls our async ``action`` before
each access: a read refreshes the requested registers from the luminaire models, so every value is
computed when it is asked for; a write is applied to the models (or refused with the exception code
the map gives). The old ``ModbusSequentialDataBlock`` subclassing trick does not work in 3.16: those
blocks are copied into ``SimData`` once. Coil and discrete-input function codes answer "illegal
function"; requests to another unit id answer "device failure" (pymodbus logs it as an error).

::

    async with LuminaireBankServer("127.0.0.1", 0, count=50) as sim:   # port 0: a free port
        sim.port; sim.inject(3, Fault.LAMP); sim.luminaire(3).state()
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData, SimDevice

from simulators.luminaire.gateway import DaliGateway, GatewayError
from simulators.luminaire.model import Fault, Luminaire
from simulators.modbus.tcp_server import ModbusTcpSim

UNIT = 1
NOMINAL_W = (60.0, 70.0, 80.0, 90.0, 100.0, 120.0)
_READS = (3, 4)  # FC03 / FC04 (the holding and input tables are the same registers here)
_BIT_FUNCTIONS = (1, 2, 5, 15)


class LuminaireBankServer(ModbusTcpSim):
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        count: int = 1,
        *,
        channel: int = 0,
        delay_ms: float = 0.0,
        now: Callable[[], float] = time.monotonic,
        seed: int = 0,
        nominal_w: float | None = None,
        energy_wh: float = 0.0,
    ) -> None:
        """``nominal_w``: every luminaire's power at full light (default: a mix of NOMINAL_W);
        ``energy_wh``: every gear's energy counter at the start."""
        rng = random.Random(seed)
        luminaires = [
            Luminaire(
                rng.choice(NOMINAL_W) if nominal_w is None else nominal_w,
                now,
                random.Random(rng.getrandbits(64)),
                energy_wh=energy_wh,
                serial=sa + 1,
            )
            for sa in range(count)
        ]
        self.gateway = DaliGateway(luminaires, channel)
        super().__init__(host, port)
        self.delay_s = delay_ms / 1000
        self.requests = 0  # requests served (for tests and the demo)
        self.writes: list[tuple[int, tuple[int, ...]]] = []  # (address, values) of every write taken

    def luminaire(self, sa: int) -> Luminaire:
        return self.gateway.luminaires[sa]

    def inject(self, sa: int, fault: Fault) -> None:
        self.gateway.luminaires[sa].inject(fault)

    def mains(self, on: bool) -> None:
        """The cabinet's lighting circuit, on or off, for every luminaire of the line (the gateway itself
        stays powered; mains back is a power cycle: each gear lights at its power-on level)."""
        for lum in self.gateway.luminaires:
            lum.set_mains(on)

    def device(self) -> SimDevice:
        blocks = [SimData(a, count=n, datatype=DataType.REGISTERS) for a, n in self.gateway.ranges]
        return SimDevice(id=UNIT, simdata=blocks, action=self._action)

    async def _action(  # noqa: PLR0917 - pymodbus calls the action with six positional arguments
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Called by pymodbus before each access (FC06 reads its register back: a second call)."""
        if function_code in _BIT_FUNCTIONS:
            return ExcCodes.ILLEGAL_FUNCTION
        if set_values is not None or function_code in _READS:
            self.requests += 1
            if self.delay_s:
                await asyncio.sleep(self.delay_s)  # the DALI query behind a real gateway
        try:
            if set_values is not None:
                values = [int(v) for v in set_values]
                self.writes.append((address, tuple(values)))
                self.gateway.write(address, values)
            else:
                first = address - start_address
                registers[first : first + count] = self.gateway.read(address, count)
        except GatewayError as exc:
            return ExcCodes(exc.code)
        return None
