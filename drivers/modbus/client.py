"""The Modbus TCP driver: the only module that does Modbus I/O and the only one importing pymodbus's
client. pymodbus exceptions are translated into :mod:`drivers.errors` here, with ``from exc``.

One driver is one TCP link (a gateway): its requests are serialised by one lock, the read plan of each
device is computed once, at construction. Failures:

- no connection, no answer within ``timeout_s``, or the link closed: :class:`DeviceUnreachable` for the
  whole read; the connection is dropped and opened again, lazily, by the next request;
- a Modbus exception response to one request: those points get a ``PointValue`` with an ``error``, the
  other requests still run;
- a point that does not decode (MASK, NaN): a ``PointValue`` with an ``error`` for that point only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from drivers.base import PointValue, ReadStats, Value
from drivers.errors import DecodeError, DeviceUnreachable, DriverError, ExceptionResponse
from drivers.modbus.codec import decode, decode_bits, encode
from drivers.modbus.config import ModbusDevice, ModbusPoint, ModbusTcpLink, Table
from drivers.modbus.plan import ReadRequest, plan_reads

log = logging.getLogger(__name__)

_Call = Callable[[AsyncModbusTcpClient], Awaitable[ModbusPDU]]


@dataclass(slots=True)
class LinkStats:
    """Counters of one link since the driver was built."""

    requests: int = 0  # sent, whatever came back
    registers_read: int = 0  # registers (or bits) received in good responses
    timeouts: int = 0  # requests without a usable answer
    exceptions: int = 0  # Modbus exception responses
    connects: int = 0  # connections opened


class ModbusTcpDriver:
    """A :class:`drivers.base.Driver` for the devices behind one Modbus TCP server or gateway."""

    def __init__(self, name: str, link: ModbusTcpLink, devices: Sequence[ModbusDevice]) -> None:
        self._name = name
        self._link = link
        self._devices: dict[str, ModbusDevice] = {}
        for d in devices:
            if d.name in self._devices:
                raise ValueError(f"{name}: device {d.name!r} is listed twice")
            self._devices[d.name] = d
        self._plans = {d.name: plan_reads(d.points, link.max_registers, link.max_gap) for d in devices}
        self._lock = asyncio.Lock()
        self._client: AsyncModbusTcpClient | None = None
        self.stats = LinkStats()
        self.last_read: dict[str, ReadStats] = {}

    @property
    def name(self) -> str:
        return self._name

    def devices(self) -> Sequence[str]:
        return tuple(self._devices)

    def plan(self, device: str) -> tuple[ReadRequest, ...]:
        """The requests one ``read(device)`` sends."""
        return self._plans[self._device(device).name]

    async def read(self, device: str) -> Sequence[PointValue]:
        dev = self._device(device)
        results: dict[str, PointValue] = {}
        received = 0
        async with self._lock:
            for req in self._plans[dev.name]:
                response = await self._request(dev, f"reading {req.describe()}", _read_call(req, dev.unit))
                values = _values(req, response)
                if not response.isError():
                    received += req.count
                results.update((v.point, v) for v in values)
            self.stats.registers_read += received
            self.last_read[dev.name] = ReadStats(requests=len(self._plans[dev.name]), registers=received)
        return [results[p.name] for p in dev.points]

    async def write(self, device: str, point: str, value: Value) -> None:
        """Write one point: FC06 for one register, FC16 for more, FC05 for a coil."""
        dev = self._device(device)
        p = next((q for q in dev.points if q.name == point), None)
        if p is None:
            raise ValueError(f"{self._name}/{dev.name}: no point {point!r}")
        if p.table in (Table.INPUT, Table.DISCRETE):
            raise ValueError(f"{self._name}/{dev.name}/{point}: a {p.table.value} point is read-only")
        words = encode(p, value)
        what = f"writing {p.table.value} {p.address}+{len(words)}"
        async with self._lock:
            response = await self._request(dev, what, _write_call(p, words, dev.unit))
        if response.isError():
            code = response.exception_code
            reason = f"modbus exception {code} ({_exception_name(code)}) {what}"
            raise ExceptionResponse(code, reason, device=dev.name, address=p.address)

    async def call(self, device: str, action: str, args: Mapping[str, Value]) -> Value:
        raise NotImplementedError(f"{self._name}: call({action!r}) is reserved for command registers")

    async def aclose(self) -> None:
        async with self._lock:
            self._drop()

    def _device(self, device: str) -> ModbusDevice:
        try:
            return self._devices[device]
        except KeyError:
            raise ValueError(f"{self._name}: no device {device!r} on this link") from None

    async def _request(self, dev: ModbusDevice, what: str, call: _Call) -> ModbusPDU:
        """Send one request (the lock is held) and return the response, or raise DeviceUnreachable."""
        client = await self._connected(dev)
        self.stats.requests += 1
        timeout = self._link.timeout_s
        try:
            # pymodbus answers a silent peer with ModbusIOException after `timeout`; the outer bound
            # only guards against a hang inside the library.
            async with asyncio.timeout(2 * timeout):
                response = await call(client)
        except (ModbusIOException, TimeoutError) as exc:
            self.stats.timeouts += 1
            self._drop()
            raise DeviceUnreachable(f"no response within {timeout} s {what}", device=dev.name) from exc
        except (ConnectionException, OSError) as exc:
            self._drop()
            raise DeviceUnreachable(f"connection lost {what}: {exc}", device=dev.name) from exc
        except ModbusException as exc:
            self._drop()
            raise DriverError(f"modbus client error {what}: {exc}", device=dev.name) from exc
        except asyncio.CancelledError:
            self._drop()  # its answer may still come: never let it meet the next request
            raise
        if response.isError():
            self.stats.exceptions += 1
        return response

    async def _connected(self, dev: ModbusDevice) -> AsyncModbusTcpClient:
        if self._client is not None and self._client.connected:
            return self._client
        self._drop()
        link = self._link
        client = AsyncModbusTcpClient(
            link.host, port=link.port, name=self._name, timeout=link.timeout_s, retries=0, reconnect_delay=0
        )
        try:
            async with asyncio.timeout(2 * link.timeout_s):
                ok = await client.connect()
        except TimeoutError:
            ok = False
        except BaseException:
            client.close()
            raise
        if not ok:
            client.close()
            where = f"{link.host}:{link.port}"
            reason = f"cannot connect to {where} (refused, or no answer within {link.timeout_s} s)"
            raise DeviceUnreachable(reason, device=dev.name)
        log.debug("%s: connected to %s:%d", self._name, link.host, link.port)
        self.stats.connects += 1
        self._client = client
        return client

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _read_call(req: ReadRequest, unit: int) -> _Call:
    def call(c: AsyncModbusTcpClient) -> Awaitable[ModbusPDU]:
        match req.table:
            case Table.HOLDING:
                return c.read_holding_registers(req.address, count=req.count, device_id=unit)
            case Table.INPUT:
                return c.read_input_registers(req.address, count=req.count, device_id=unit)
            case Table.COIL:
                return c.read_coils(req.address, count=req.count, device_id=unit)
            case Table.DISCRETE:
                return c.read_discrete_inputs(req.address, count=req.count, device_id=unit)

    return call


def _write_call(p: ModbusPoint, words: list[int], unit: int) -> _Call:
    def call(c: AsyncModbusTcpClient) -> Awaitable[ModbusPDU]:
        if p.table is Table.COIL:
            return c.write_coil(p.address, bool(words[0]), device_id=unit)
        if len(words) == 1:
            return c.write_register(p.address, words[0], device_id=unit)
        return c.write_registers(p.address, words, device_id=unit)

    return call


def _values(req: ReadRequest, response: ModbusPDU) -> list[PointValue]:
    """One value (or error) per point of the request."""
    if response.isError():
        code = response.exception_code
        reason = f"modbus exception {code} ({_exception_name(code)}) reading {req.describe()}"
        return [PointValue(p.name, None, reason) for p in req.points]
    bits = req.table in (Table.COIL, Table.DISCRETE)
    received = len(response.bits) if bits else len(response.registers)
    if received < req.count:
        reason = f"short response: {received} of {req.count} reading {req.describe()}"
        return [PointValue(p.name, None, reason) for p in req.points]
    out = []
    for p in req.points:
        i = p.address - req.address
        try:
            if bits:
                value: Value = decode_bits(p, response.bits[i : i + 1])
            else:
                value = decode(p, response.registers[i : i + p.words])
        except DecodeError as exc:
            out.append(PointValue(p.name, None, exc.reason))
        else:
            out.append(PointValue(p.name, value))
    return out


def _exception_name(code: int) -> str:
    try:
        return ExcCodes(code).name.lower().replace("_", " ")
    except ValueError:
        return "unknown"
