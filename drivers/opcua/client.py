"""The OPC-UA driver: reads, writes and method calls on the devices of one server (one session).

The parts, each in its own module: the session and its reconnect back-off (:mod:`.session`), certificate
pinning (:mod:`.security`), address resolution (:mod:`.resolve`), subscriptions (:mod:`.subscription`),
and the one translation of asyncua's exceptions (:mod:`.errors`); asyncua is imported only by these
(outside the simulator).

Failures: no connection, a timeout, a lost session: :class:`DeviceUnreachable`. The server refusing us
(a certificate it does not trust, a security policy it does not offer, a method's Bad result):
:class:`BadStatus`, with the status name. A point whose node is unknown, or whose value has a Bad status
or does not fit the point: a ``PointValue`` with an ``error``, the other points still read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager

from asyncua import ua
from asyncua.ua.attribute_ids import AttributeIds

from drivers.base import PointValue, Value
from drivers.errors import BadStatus, DeviceUnreachable, DriverError
from drivers.opcua import address
from drivers.opcua.command import arguments, method_path, writable
from drivers.opcua.config import OpcUaDevice, OpcUaLink, ReadMode
from drivers.opcua.datavalue import output, point_value, read
from drivers.opcua.errors import status, translate
from drivers.opcua.session import Connection, LinkStats, Session
from drivers.scheduler import BusScheduler, Priority

__all__ = ["LinkStats", "OpcUaDriver"]


class OpcUaDriver:
    """A :class:`drivers.base.Driver` for the devices of one OPC-UA server."""

    def __init__(
        self,
        name: str,
        link: OpcUaLink,
        devices: Sequence[OpcUaDevice],
        *,
        scheduler: BusScheduler | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = name
        self._link = link
        self._devices: dict[str, OpcUaDevice] = {}
        for d in devices:
            if d.name in self._devices:
                raise ValueError(f"{name}: device {d.name!r} is listed twice")
            self._devices[d.name] = d
        self.scheduler = scheduler or BusScheduler(name, link.frame_gap_s)
        self.stats = LinkStats()
        self._session = Session(
            name, link, self._devices, scheduler=self.scheduler, stats=self.stats, clock=clock
        )

    @property
    def name(self) -> str:
        return self._name

    def devices(self) -> Sequence[str]:
        return tuple(self._devices)

    @property
    def connected(self) -> bool:
        return self._session.connected

    async def read(self, device: str, *, priority: Priority = Priority.POLL) -> Sequence[PointValue]:
        """Every point of ``device``. ``priority`` COMMAND is a command's fresh read: ahead of queued polls,
        and every node read from the server now, subscribed ones too (never the last notification)."""
        dev = self._device(device)
        fresh = priority is Priority.COMMAND
        conn = await self._session.connection(dev, priority)
        nodes = conn.nodes[dev.name]
        polled = [
            p
            for p in dev.points
            if (fresh or p.read is ReadMode.POLL) and isinstance(nodes[p.name], ua.NodeId)
        ]
        results: dict[str, PointValue] = {}
        if polled:
            async with self._request(conn, dev, f"reading {len(polled)} nodes", priority):
                values = await read(
                    conn.client, [node for p in polled if isinstance(node := nodes[p.name], ua.NodeId)]
                )
            results.update((p.name, point_value(p, dv)) for p, dv in zip(polled, values, strict=True))
        latest = conn.latest.get(dev.name, {})
        out = []
        for p in dev.points:
            node = nodes[p.name]
            if isinstance(node, str):
                out.append(PointValue(p.name, None, node))
            elif p.name in results:
                out.append(results[p.name])
            else:
                out.append(latest.get(p.name) or PointValue(p.name, None, "no value received yet"))
        return out

    async def write(self, device: str, point: str, value: Value) -> None:
        """A write the point cannot take is a :class:`WriteError`, raised before anything is sent."""
        dev = self._devices.get(device)
        p, raw = writable(self._name, dev, device, point, value)
        assert dev is not None
        conn = await self._session.connection(dev, Priority.COMMAND)
        node = conn.nodes[dev.name][p.name]
        if isinstance(node, str):
            raise DriverError(node, device=dev.name, point=p.name)
        target = conn.client.get_node(node)
        async with self._request(conn, dev, f"writing {p.where()}", Priority.COMMAND):
            vtype = await target.read_data_type_as_variant_type()
            await target.write_attribute(AttributeIds.Value, ua.DataValue(ua.Variant(raw, vtype)))

    async def call(self, device: str, action: str, args: Mapping[str, Value]) -> Value:
        """Call the method at browse path ``action`` under the device's root (``SetPlan``) with named
        arguments; returns its output (its first one if it has several; None if it has none)."""
        dev = self._devices.get(device)
        path = method_path(self._name, dev, device, action)
        assert dev is not None
        conn = await self._session.connection(dev, Priority.COMMAND)
        async with self._request(conn, dev, f"calling {action}", Priority.COMMAND):
            key = (dev.name, action)
            if key not in conn.methods:
                conn.methods[key] = await address.method(conn.client, conn.namespaces, dev, path)
            method = conn.methods[key]
            variants = arguments(self._name, dev, action, method.arguments, args)  # CallError if not its
            request = ua.CallMethodRequest(
                ObjectId=method.parent, MethodId=method.method, InputArguments=variants
            )
            (result,) = await conn.client.uaclient.call([request])
        s = status(result.StatusCode)
        if s.bad:
            raise BadStatus(s.code, s.name, f"{action} returned {s.name}", device=dev.name)
        outputs = result.OutputArguments or []
        return output(outputs[0].Value) if outputs else None

    async def aclose(self) -> None:
        await self._session.aclose()

    def _device(self, device: str) -> OpcUaDevice:
        try:
            return self._devices[device]
        except KeyError:
            raise ValueError(f"{self._name}: no device {device!r} on this server") from None

    @asynccontextmanager
    async def _request(
        self, conn: Connection, dev: OpcUaDevice, what: str, priority: Priority
    ) -> AsyncIterator[None]:
        timeout = dev.timeout_s or self._link.timeout_s
        async with self.scheduler.slot(priority):
            self.stats.requests += 1
            try:
                async with asyncio.timeout(timeout):
                    yield
            except DriverError:
                raise
            except Exception as exc:
                if isinstance(exc, TimeoutError):
                    self.stats.timeouts += 1
                error = translate(exc, what, dev.name, timeout)
                if isinstance(error, DeviceUnreachable):
                    conn.lost = conn.lost or error.reason
                    error.retry_in_s = 0.0  # a lost session is reconnected on the next request
                raise error from exc
