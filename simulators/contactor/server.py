"""``sim-cabinet`` as a real Modbus TCP server: a :class:`~simulators.contactor.cabinet.Cabinet` behind the
register image of a WAGO-750-352-style Ethernet fieldbus coupler with one relay output module (DO1 →
the coil of contactor K1) and one digital input module (DI1 the lighting circuit's voltage sense, DI2
the fallback's contact, DI3 the door), unit id 1. Addresses are 0-based:

- holding 0 (FC06/FC16): the output process image, bit 0 = DO1 (other bits: spare outputs, kept);
- holding 512 (0x0200, FC03): the output image read back (the coupler's "+0x200" address);
- input register 0 (FC04) and holding 0 read with FC03: the input process image, bit i = DI(i+1);
- discrete inputs 0..2 (FC02): DI1 ``mains``, DI2 ``fallback``, DI3 ``door_open``.

The real coupler also maps the outputs as coils (FC01/05/15); this simulator serves the register image
only (the profile writes it with FC16) and answers the coil function codes "illegal function".

::

    async with CabinetServer(fallback=AstroRelay(47.3, 5.0, wall), on_mains=bank.mains) as cab:
        cab.port; cab.cabinet.update(); cab.cabinet.output
"""

from __future__ import annotations

from collections.abc import Callable

from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData, SimDevice

from simulators.contactor.cabinet import Cabinet, _nothing
from simulators.contactor.fallback import Fallback
from simulators.modbus.tcp_server import ModbusTcpSim

UNIT = 1
OUTPUTS, OUTPUTS_READ = 0, 0x200
INPUT_BITS = 16
_COIL_FUNCTIONS = (1, 5, 15)
_DISCRETE, _INPUT, _HOLDING = 2, 4, 3


class CabinetServer(ModbusTcpSim):
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        fallback: Fallback | None = None,
        on_mains: Callable[[bool], None] = _nothing,
    ) -> None:
        self.cabinet = Cabinet(fallback, on_mains)
        super().__init__(host, port)
        self._image = 0  # the output process image (bit 0: DO1)
        self.requests = 0
        self.writes: list[int] = []  # every output image written

    def inputs(self) -> int:
        """The input process image now: DI1 mains, DI2 fallback, DI3 door."""
        c = self.cabinet
        live = c.update()
        return int(live) | int(c.fallback_closed()) << 1 | int(c.door_open) << 2

    def device(self) -> SimDevice:
        tables = (
            [SimData(0, count=16, values=False, datatype=DataType.BITS)],  # never served (coils)
            [SimData(0, count=INPUT_BITS, values=False, datatype=DataType.BITS)],
            [
                SimData(OUTPUTS, count=1, datatype=DataType.REGISTERS),
                SimData(OUTPUTS_READ, count=1, datatype=DataType.REGISTERS),
            ],
            [SimData(0, count=1, datatype=DataType.REGISTERS)],
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
        """Called by pymodbus before each access (FC06 reads its register back: a second call)."""
        if function_code in _COIL_FUNCTIONS:
            return ExcCodes.ILLEGAL_FUNCTION
        if set_values is not None:
            if address not in (OUTPUTS, OUTPUTS_READ) or len(set_values) != 1:
                return ExcCodes.ILLEGAL_ADDRESS
            self.requests += 1
            self._image = int(set_values[0]) & 0xFFFF
            self.writes.append(self._image)
            self.cabinet.set_output(bool(self._image & 1))
            return None
        if function_code in (_DISCRETE, _INPUT):
            self.requests += 1
            registers[0] = self.inputs()
        elif function_code == _HOLDING:
            self.requests += 1
            first = address - start_address
            registers[first] = self._image if address == OUTPUTS_READ else self.inputs()
        return None
