"""Which Modbus unit ids answer on a line or behind a TCP gateway (the technician's ``scan``).

One read of one holding register per unit id, with a short timeout. What counts as a unit there:

- a value, or an exception a unit itself gives (1 illegal function, 2 illegal address, 3 illegal value,
  5 acknowledge, 6 busy, 7, 8): the unit is there, it just has no such register or is busy;
- silence, or a gateway's exception 10 (path unavailable) or 11 (target device failed to respond): no
  unit;
- exception 4 (device failure): not counted. TCP gateways answer it for ids they do not know, so
  taken as "there" a gateway shows every id; a unit in failure answers it too, so it is reported
  apart (``Verdict.DEVICE_FAILURE``) for a person to look at.

Probes go one at a time: a scan must never put two requests on a line at once, and on a line a running
agent uses, run it through ``edge-agent read`` instead or stop the agent first.
"""

from __future__ import annotations

import asyncio
import enum
import os
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from drivers.errors import DeviceUnreachable
from drivers.modbus.pdu import exception_text

DEVICE_FAILURE = 0x04
GATEWAY_PATH_UNAVAILABLE = 0x0A
GATEWAY_TARGET_FAILED = 0x0B


class Verdict(enum.Enum):
    ANSWERED = "answered"  # a value, or an exception only a unit gives: the unit is there
    SILENT = "silent"  # no answer, or a gateway's exception 10 / 11: no unit
    DEVICE_FAILURE = "device failure"  # exception 4: a gateway's "unknown id", or a unit in failure


@dataclass(frozen=True, slots=True)
class Probe:
    unit: int
    verdict: Verdict
    detail: str  # "holding 0 = 17", "modbus exception 2 (illegal address) ...", "no answer"

    @property
    def answered(self) -> bool:
        return self.verdict is Verdict.ANSWERED


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
            raise DeviceUnreachable(f"cannot open {where}: {await _why_not(target, timeout_s + 5)}")
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
        return Probe(unit, Verdict.SILENT, "no answer")
    if response.isError():
        code = int(getattr(response, "exception_code", 0))
        detail = f"{exception_text(code)} to a read of holding {register}"
        if code in (GATEWAY_PATH_UNAVAILABLE, GATEWAY_TARGET_FAILED):
            return Probe(unit, Verdict.SILENT, detail)
        if code == DEVICE_FAILURE:
            return Probe(unit, Verdict.DEVICE_FAILURE, detail)
        return Probe(unit, Verdict.ANSWERED, detail)
    return Probe(unit, Verdict.ANSWERED, f"holding {register} = {response.registers[0]}")


async def _why_not(target: TcpTarget | SerialTarget, timeout_s: float) -> str:
    """Why pymodbus could not connect (it logs the reason and returns False): try it once more plainly."""
    try:
        if isinstance(target, TcpTarget):
            _, writer = await asyncio.wait_for(asyncio.open_connection(target.host, target.port), timeout_s)
            writer.close()
        else:
            os.close(os.open(target.port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK))
    except TimeoutError:
        return f"no answer within {timeout_s:g} s"
    except OSError as exc:
        return (os.strerror(exc.errno) if exc.errno else str(exc)).lower()
    return "the connection was refused by the Modbus client"  # opens now: it failed in pymodbus


def spans(units: Iterable[int]) -> str:
    """``1-3,7``: the inverse of :func:`parse_units`."""
    out: list[tuple[int, int]] = []
    for u in sorted(set(units)):
        if out and out[-1][1] == u - 1:
            out[-1] = (out[-1][0], u)
        else:
            out.append((u, u))
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in out)


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
