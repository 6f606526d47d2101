"""The Modbus drivers' shared part: the one place that does Modbus I/O; pymodbus exceptions are translated
into :mod:`drivers.errors` here, with ``from exc``. The transports open the link: :mod:`.tcp` and
:mod:`.rtu`.

One driver is one physical link: a TCP gateway (:class:`~drivers.modbus.tcp.ModbusTcpDriver`) or a
serial line (:class:`~drivers.modbus.rtu.ModbusRtuDriver`). Both share :class:`ModbusDriver`: the read
plan of each device is computed once, at construction, and every request waits for its turn on the
link's :class:`BusScheduler` (one request on the wire at a time, the silent gap between frames, commands
ahead of queued polls). The two differ only in how the link is opened and what a timeout does to it.
Failures:

- no answer within the device's timeout (its own ``timeout_s``, else the link's): the request is tried
  again, ``retries`` more times, each retry queued behind the polls already waiting; then
  :class:`DeviceUnreachable` for the whole read. A unit id whose last request got no answer is tried
  once per request until it answers again (retries are for a lost frame, not for a dead device);
- no connection, a closed link, a serial port that cannot be opened: :class:`DeviceUnreachable` at
  once; the link is opened again, lazily, by the next request;
- a Modbus exception response to one request: those points get a ``PointValue`` with an ``error``, the
  other requests still run, nothing is retried;
- a point that does not decode (MASK, NaN): a ``PointValue`` with an ``error`` for that point only.

Writes are never retried: a write that got no answer may have been applied.

Serial I/O stays off the event loop's critical path: pymodbus opens the port through pyserial in
non-blocking mode (``O_NONBLOCK``, termios set-up, an ``flock``: no call that waits on the line) and
then reads and writes it from ``add_reader``/``add_writer`` callbacks with zero timeouts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from drivers.base import PointValue, ReadStats, Value
from drivers.errors import DeviceUnreachable, DriverError, ExceptionResponse, NoResponse
from drivers.modbus.command import refused_call, registers, writable
from drivers.modbus.config import ModbusDevice, ModbusRtuLink, ModbusTcpLink
from drivers.modbus.pdu import Call, exception_text, read_call, registers_call, values, write_call
from drivers.modbus.plan import ReadRequest, plan_reads
from drivers.scheduler import BusScheduler, Priority

log = logging.getLogger(__name__)

Client = AsyncModbusTcpClient | AsyncModbusSerialClient


@dataclass(slots=True)
class LinkStats:
    """Counters of one link since the driver was built."""

    requests: int = 0  # sent, whatever came back (retries included)
    registers_read: int = 0  # registers (or bits) received in good responses
    timeouts: int = 0  # requests without a usable answer
    exceptions: int = 0  # Modbus exception responses
    connects: int = 0  # connections (TCP) or port openings (RTU)


class ModbusDriver:
    """A :class:`drivers.base.Driver` for the Modbus devices on one link; see the subclasses."""

    _lost = "link lost"

    def __init__(
        self,
        name: str,
        link: ModbusTcpLink | ModbusRtuLink,
        devices: Sequence[ModbusDevice],
        *,
        scheduler: BusScheduler | None = None,
    ) -> None:
        self._name = name
        self._link = link
        self._devices: dict[str, ModbusDevice] = {}
        for d in devices:
            if d.name in self._devices:
                raise ValueError(f"{name}: device {d.name!r} is listed twice")
            self._devices[d.name] = d
        self._plans = {d.name: plan_reads(d.points, link.max_registers, link.max_gap) for d in devices}
        self.scheduler = scheduler or BusScheduler(name, link.frame_gap_s)
        # pymodbus's own timeout is only a backstop: each request is bounded by its device's timeout
        self._backstop_s = 2 * max([link.timeout_s, *(d.timeout_s for d in devices if d.timeout_s)])
        self._client: Client | None = None
        self._unanswered: set[int] = set()  # unit ids whose last request got no answer
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

    async def read(self, device: str, *, priority: Priority = Priority.POLL) -> Sequence[PointValue]:
        """Every point of ``device``; ``priority`` COMMAND: a command's fresh read, ahead of queued polls."""
        dev = self._device(device)
        attempts = 1 if dev.unit in self._unanswered else 1 + self._link.retries
        results: dict[str, PointValue] = {}
        received = 0
        try:
            for req in self._plans[dev.name]:
                what = f"reading {req.describe()}"
                response = await self._request(dev, what, read_call(req, dev.unit), priority, attempts)
                if not response.isError():
                    received += req.count
                results.update((v.point, v) for v in values(req, response))
        except NoResponse:
            self._unanswered.add(dev.unit)
            raise
        self._unanswered.discard(dev.unit)
        self.stats.registers_read += received
        self.last_read[dev.name] = ReadStats(requests=len(self._plans[dev.name]), registers=received)
        return [results[p.name] for p in dev.points]

    async def write(self, device: str, point: str, value: Value) -> None:
        """Write one point: FC06 for one register, FC16 for more, FC05 for a coil. A write the point
        cannot take is a :class:`WriteError`, raised before the bus."""
        dev = self._devices.get(device)
        p, words = writable(self._name, dev, device, point, value)
        assert dev is not None
        what = f"writing {p.table.value} {p.address}+{len(words)}"
        response = await self._request(dev, what, write_call(p, words, dev.unit), Priority.COMMAND, 1)
        if response.isError():
            code = response.exception_code
            reason = f"{exception_text(code)} {what}"
            raise ExceptionResponse(code, reason, device=dev.name, address=p.address)

    async def write_registers(self, device: str, address: int, values: Sequence[int]) -> None:
        """Write holding registers from ``address`` in one request (FC16: a command mailbox sees them at
        once), at command priority, never retried. Values outside 0..65535, or more than 123 of them, are
        a :class:`WriteError` raised before the bus; the device refusing: :class:`ExceptionResponse`."""
        dev = self._devices.get(device)
        words = registers(self._name, dev, device, address, values)
        assert dev is not None
        what = f"writing holding {address}+{len(words)}"
        response = await self._request(
            dev, what, registers_call(address, words, dev.unit), Priority.COMMAND, 1
        )
        if response.isError():
            code = response.exception_code
            raise ExceptionResponse(code, f"{exception_text(code)} {what}", device=dev.name, address=address)

    async def call(self, device: str, action: str, args: Mapping[str, Value]) -> Value:
        """No Modbus device has actions yet: :class:`UnsupportedAction` (command mailboxes come later)."""
        raise refused_call(self._name, self._devices.get(device), device, action, args)

    async def aclose(self) -> None:
        self._drop()  # a request still in flight ends as DeviceUnreachable

    def _device(self, device: str) -> ModbusDevice:
        try:
            return self._devices[device]
        except KeyError:
            raise ValueError(f"{self._name}: no device {device!r} on this link") from None

    async def _request(
        self, dev: ModbusDevice, what: str, call: Call, priority: Priority, attempts: int
    ) -> ModbusPDU:
        """One request, tried up to ``attempts`` times while it gets no answer; each try takes a slot."""
        if attempts == 1:  # the common case (TCP, or a unit known to be silent): no retry machinery
            async with self.scheduler.slot(priority):
                return await self._attempt(dev, what, call, 1)
        from tenacity import (
            AsyncRetrying,
            retry_if_exception_type,
            stop_after_attempt,
        )  # only lines that retry

        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts), retry=retry_if_exception_type(NoResponse), reraise=True
        )
        async for attempt in retrying:
            with attempt:
                tried = attempt.retry_state.attempt_number
                async with self.scheduler.slot(priority if tried == 1 else Priority.RETRY):
                    response = await self._attempt(dev, what, call, tried)
        return response

    async def _attempt(self, dev: ModbusDevice, what: str, call: Call, tried: int) -> ModbusPDU:
        """Send one request (the slot is held) and return the response, or raise DeviceUnreachable."""
        client = await self._connected(dev)
        self.stats.requests += 1
        timeout = dev.timeout_s or self._link.timeout_s
        try:
            async with asyncio.timeout(timeout):
                response = await call(client)
        except (ModbusIOException, TimeoutError) as exc:
            self.stats.timeouts += 1
            self._after_silence()
            tries = f" ({tried} attempts)" if tried > 1 else ""
            raise NoResponse(f"no response within {timeout} s {what}{tries}", device=dev.name) from exc
        except (ConnectionException, OSError) as exc:
            self._drop()
            raise DeviceUnreachable(f"{self._lost} {what}: {exc}", device=dev.name) from exc
        except ModbusException as exc:
            self._drop()
            raise DriverError(f"modbus client error {what}: {exc}", device=dev.name) from exc
        except asyncio.CancelledError:
            self._drop()  # its answer may still come: never let it meet the next request
            raise
        if response.isError():
            self.stats.exceptions += 1
        return response

    async def _connected(self, dev: ModbusDevice) -> Client:
        if self._client is not None and self._client.connected:
            return self._client
        self._drop()
        client = self._new_client()
        try:
            async with asyncio.timeout(self._link.timeout_s):
                ok = await client.connect()
        except TimeoutError:
            ok = False
        except BaseException:
            client.close()
            raise
        if not ok:
            client.close()
            raise DeviceUnreachable(self._cannot_connect(), device=dev.name)
        log.debug("%s: %s open", self._name, self._where())
        self.stats.connects += 1
        self._client = client
        return client

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _new_client(self) -> Client:
        raise NotImplementedError

    def _where(self) -> str:
        raise NotImplementedError

    def _cannot_connect(self) -> str:
        raise NotImplementedError

    def _after_silence(self) -> None:
        """What a request without an answer does to the link."""
