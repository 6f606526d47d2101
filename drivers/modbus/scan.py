"""Which Modbus unit ids answer on a line or behind a TCP gateway (the technician's ``scan``).

One read of one holding register per unit id, with a short timeout. Any answer counts, an exception
response included (the unit is there, it just has no such register); silence, or a gateway's "target
device failed to respond" (exception 0x0B), means nobody is home. Probes go one at a time: a scan
must never put two requests on a line at once, and on a line a running agent uses, run it through
``edge-agent read`` instead or stop the agent first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from drivers.errors import DeviceUnreachable

GATEWAY_TARGET_FAILED = 0x0B


@dataclass(frozen=True, slots=True)
class Probe:
    unit: int
    answered: bool
    detail: str  # "register 0 = 17", "exception 2 (illegal data address)", "no answer"


@dataclass(frozen=True, slots=True)
class TcpTarget:
    host: str
    port: int = 502


@dataclass(frozen=True, slots=True)
class SerialTarget:
    port: str
    baudrate: int = 19200
    parity: str = "E"
    stopbits: int = 1


async def scan(
    target: TcpTarget | SerialTarget, units: Iterable[int], *, register: int = 0, timeout_s: float = 0.3
) -> AsyncIterator[Probe]:
    client: AsyncModbusTcpClient | AsyncModbusSerialClient
    if isinstance(target, TcpTarget):
        client = AsyncModbusTcpClient(
            target.host, port=target.port, timeout=timeout_s, retries=0, reconnect_delay=0
        )
        where = f"{target.host}:{target.port}"
    else:
        client = AsyncModbusSerialClient(
            target.port,
            baudrate=target.baudrate,
            parity=target.parity,
            stopbits=target.stopbits,
            timeout=timeout_s,
            retries=0,
            reconnect_delay=0,
        )
        where = target.port
    try:
        if not await asyncio.wait_for(client.connect(), timeout_s + 5):
            raise DeviceUnreachable(f"cannot open {where}")
        for unit in units:
            yield await _probe(client, unit, register)
    except (OSError, TimeoutError) as exc:
        raise DeviceUnreachable(f"cannot open {where}: {exc}") from exc
    finally:
        client.close()


async def _probe(client: AsyncModbusTcpClient | AsyncModbusSerialClient, unit: int, register: int) -> Probe:
    try:
        response = await client.read_holding_registers(register, count=1, device_id=unit)
    except ModbusException:
        return Probe(unit, False, "no answer")
    if response.isError():
        code = int(getattr(response, "exception_code", 0))
        if code == GATEWAY_TARGET_FAILED:
            return Probe(unit, False, "gateway: target device failed to respond")
        return Probe(unit, True, f"exception {code} to a read of holding {register}")
    return Probe(unit, True, f"holding {register} = {response.registers[0]}")


def parse_units(text: str) -> list[int]:
    """``1-20,30,40-42`` → unit ids; raises ValueError naming the bad part."""
    units: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise ValueError(f"bad unit range {part!r}: use e.g. 1-247 or 1,5,7-9") from None
        if not 0 <= a <= b <= 247:
            raise ValueError(f"bad unit range {part!r}: unit ids are 0..247, low to high")
        units.extend(range(a, b + 1))
    return units
