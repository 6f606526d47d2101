"""``sim-bollard`` as a real Modbus TCP server: a :class:`BollardSite` behind pymodbus, with the register
map of :mod:`simulators.bollard.register_map` (devices.md §5.3), unit id 1.

pymodbus 3.16 serves a ``SimDevice`` with four separate tables (coils, discrete inputs, holding, input
registers) and calls our async ``action`` before each access: a read refreshes the table from the model
(the whole discrete-input or input-register table, or the requested holding registers), so every value
is computed when it is asked for; a write goes to the map, which applies it to the model or refuses it
with the exception code the map gives. The map has no coils: FC01/05/15 answer "illegal function".

::

    async with BollardSiteServer("127.0.0.1", 0, count=2) as sim:   # port 0: a free port
        sim.port; sim.site.set_loop(0, True); sim.site.reading().state
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData, SimDevice

from simulators.bollard.codes import Logic, SiteSettings
from simulators.bollard.register_map import INPUT_COUNT, BollardMap, MapError
from simulators.bollard.site import BollardSite
from simulators.modbus.tcp_server import ModbusTcpSim

UNIT = 1
_COIL_FUNCTIONS = (1, 5, 15)
_DISCRETE, _INPUT = 2, 4


class BollardSiteServer(ModbusTcpSim):
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        count: int = 1,
        *,
        settings: SiteSettings | None = None,
        logic: Logic = Logic.AUTOMATIC,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.site = BollardSite(count, now, settings, logic)
        self.map = BollardMap(self.site)
        super().__init__(host, port)
        self.requests = 0  # reads and writes served

    def device(self) -> SimDevice:
        tables = (
            [SimData(0, count=16, values=False, datatype=DataType.BITS)],  # never served (no coils)
            [SimData(0, count=self.map.discrete_count, values=False, datatype=DataType.BITS)],
            [SimData(a, count=n, datatype=DataType.REGISTERS) for a, n in self.map.holding_ranges],
            [SimData(0, count=INPUT_COUNT, datatype=DataType.REGISTERS)],
        )
        return SimDevice(id=UNIT, simdata=tables, action=self._action)

    async def _action(  # noqa: PLR0917 - pymodbus calls the action with six positional arguments
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Called by pymodbus before each access (FC06 reads its register back: a second call).

        ``registers`` is the whole table, from ``start_address``; for the bit tables each register
        holds 16 inputs, bit 0 first, and ``address`` counts bits.
        """
        if function_code in _COIL_FUNCTIONS:
            return ExcCodes.ILLEGAL_FUNCTION
        try:
            if function_code == _DISCRETE:
                self.requests += 1
                bits = self.map.discrete_inputs()
                registers[: len(bits) // 16] = _pack(bits)
            elif function_code == _INPUT:
                self.requests += 1
                registers[:INPUT_COUNT] = self.map.input_registers()
            elif set_values is not None:
                self.requests += 1
                self.map.write_holding(address, [int(v) for v in set_values])
            else:
                if function_code == 3:
                    self.requests += 1
                first = address - start_address
                registers[first : first + count] = self.map.read_holding(address, count)
        except MapError as exc:
            return ExcCodes(exc.code)
        return None


def _pack(bits: list[bool]) -> list[int]:
    """16 inputs a register, the lowest address in bit 0 (how pymodbus's bit tables store them)."""
    return [sum(1 << i for i, on in enumerate(bits[k : k + 16]) if on) for k in range(0, len(bits), 16)]
