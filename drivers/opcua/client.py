"""The OPC-UA driver: the only module importing asyncua (outside the simulator), and the one place where
asyncua's and ``ua`` exceptions become :mod:`drivers.errors`, with ``from exc``.

One driver is one server (one session). A connection is built whole, on the first request that needs
it: a new asyncua ``Client`` with the configured security (nothing survives from the last connection,
so a reconnect cannot lose the security settings), the namespaces looked up, every browse path
translated, each device's polled nodes listed and its subscription created (with one Read first, so the
first ``read`` after a connect already has values). When the server goes away — a closed socket, or no
answer to the client's keep-alive probe — the connection is dropped; the next request builds a new one
and so re-creates the subscriptions. After a failed connect the next try waits ``reconnect.initial_s``,
doubling up to ``reconnect.max_s``; requests in between fail at once with ``DeviceUnreachable``.

Failures: no connection, a timeout, a lost session: :class:`DeviceUnreachable`. The server refusing us
(a certificate it does not trust, a security policy it does not offer, a method's Bad result):
:class:`BadStatus`, with the status name. A point whose node is unknown, or whose value has a Bad status
or does not fit the point: a ``PointValue`` with an ``error``, the other points still read.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.client.ua_client import UaClientState
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeNotif
from asyncua.common.ua_utils import data_type_to_variant_type
from asyncua.crypto import security_policies
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from drivers.base import PointValue, Value
from drivers.errors import BadStatus, DeviceUnreachable, DriverError
from drivers.opcua.codec import Status, decode
from drivers.opcua.command import arguments, method_path, writable
from drivers.opcua.config import (
    BrowseName,
    IdKind,
    NodeRef,
    OpcUaDevice,
    OpcUaLink,
    OpcUaPoint,
    OpcUaSecurity,
    ReadMode,
    SecurityMode,
    format_path,
)
from drivers.scheduler import BusScheduler, Priority

log = logging.getLogger(__name__)

# Status codes that mean the session or its channel is gone (the server restarted, the network broke).
_LOST = frozenset(
    {
        "BadCommunicationError",
        "BadConnectionClosed",
        "BadNoCommunication",
        "BadNotConnected",
        "BadRequestTimeout",
        "BadSecureChannelClosed",
        "BadSecureChannelIdInvalid",
        "BadServerHalted",
        "BadServerNotConnected",
        "BadSessionClosed",
        "BadSessionIdInvalid",
        "BadSessionNotActivated",
        "BadShutdown",
        "BadTimeout",
    }
)
_HIERARCHICAL = ua.NodeId(ua.Int32(ObjectIds.HierarchicalReferences))
_OBJECTS = ua.NodeId(ua.Int32(ObjectIds.ObjectsFolder))


@dataclass(slots=True)
class LinkStats:
    connects: int = 0  # sessions opened
    connect_failures: int = 0
    losses: int = 0  # sessions lost while in use
    requests: int = 0  # reads, writes, calls sent
    timeouts: int = 0
    notifications: int = 0  # data changes received on subscriptions


@dataclass(slots=True)
class _Method:
    parent: ua.NodeId
    method: ua.NodeId
    arguments: tuple[tuple[str, ua.VariantType], ...]


@dataclass(slots=True)
class _Connection:
    client: Client
    # device -> point -> its node, or why it has none (an unknown path, a namespace the server lacks)
    nodes: dict[str, dict[str, ua.NodeId | str]] = field(default_factory=dict)
    latest: dict[str, dict[str, PointValue]] = field(default_factory=dict)  # subscribed points
    methods: dict[tuple[str, str], _Method] = field(default_factory=dict)
    namespaces: list[str] = field(default_factory=list)
    opened: bool = False  # a session was established (so there is one to close)
    lost: str | None = None

    @property
    def alive(self) -> bool:
        return self.lost is None and self.client.state is UaClientState.CONNECTED


class _Updates:
    """The subscription handler of one device: keeps the latest value of each subscribed point."""

    def __init__(
        self, driver: OpcUaDriver, latest: dict[str, PointValue], points: dict[ua.NodeId, list[OpcUaPoint]]
    ):
        self._driver = driver
        self._latest = latest
        self._points = points

    def datachange_notification(self, node: Node, val: Any, data: DataChangeNotif) -> None:
        self._driver.stats.notifications += 1
        dv = data.monitored_item.Value
        status = _status(dv.StatusCode if dv is not None else None)
        for p in self._points.get(node.nodeid, ()):
            self._latest[p.name] = decode(p, _plain(val), status)

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        s = _status(status.Status)
        if s.bad:
            for points in self._points.values():
                for p in points:
                    self._latest[p.name] = PointValue(p.name, None, f"subscription ended: {s.name}")


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
        self._clock = clock
        self._conn: _Connection | None = None
        self._retry_at = -float("inf")
        self._delay = link.reconnect.initial_s
        self._last_error: DriverError | None = None
        self._closing: set[asyncio.Task[None]] = set()  # lost connections being closed
        self.stats = LinkStats()

    @property
    def name(self) -> str:
        return self._name

    def devices(self) -> Sequence[str]:
        return tuple(self._devices)

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.alive

    async def read(self, device: str) -> Sequence[PointValue]:
        dev = self._device(device)
        conn = await self._connection(dev, Priority.POLL)
        nodes = conn.nodes[dev.name]
        polled = [p for p in dev.points if p.read is ReadMode.POLL and isinstance(nodes[p.name], ua.NodeId)]
        results: dict[str, PointValue] = {}
        if polled:
            async with self._request(dev, f"reading {len(polled)} nodes", Priority.POLL):
                values = await conn.client.read_attributes(
                    [conn.client.get_node(nodes[p.name]) for p in polled]
                )
            results.update((p.name, _decode(p, dv)) for p, dv in zip(polled, values, strict=True))
        latest = conn.latest.get(dev.name, {})
        out = []
        for p in dev.points:
            node = nodes[p.name]
            if isinstance(node, str):
                out.append(PointValue(p.name, None, node))
            elif p.read is ReadMode.POLL:
                out.append(results[p.name])
            else:
                out.append(latest.get(p.name) or PointValue(p.name, None, "no value received yet"))
        return out

    async def write(self, device: str, point: str, value: Value) -> None:
        """A write the point cannot take is a :class:`WriteError`, raised before anything is sent."""
        dev = self._devices.get(device)
        p, raw = writable(self._name, dev, device, point, value)
        assert dev is not None
        conn = await self._connection(dev, Priority.COMMAND)
        node = conn.nodes[dev.name][p.name]
        if isinstance(node, str):
            raise DriverError(node, device=dev.name, point=p.name)
        target = conn.client.get_node(node)
        async with self._request(dev, f"writing {p.where()}", Priority.COMMAND):
            vtype = await target.read_data_type_as_variant_type()
            await target.write_attribute(AttributeIds.Value, ua.DataValue(ua.Variant(raw, vtype)))

    async def call(self, device: str, action: str, args: Mapping[str, Value]) -> Value:
        """Call the method at browse path ``action`` under the device's root (``SetPlan``) with named
        arguments; returns its output (its first one if it has several; None if it has none)."""
        dev = self._devices.get(device)
        path = method_path(self._name, dev, device, action)
        assert dev is not None
        conn = await self._connection(dev, Priority.COMMAND)
        async with self._request(dev, f"calling {action}", Priority.COMMAND):
            method = await self._method(conn, dev, action, path)
            variants = arguments(self._name, dev, action, method.arguments, args)  # CallError if not its
            request = ua.CallMethodRequest(
                ObjectId=method.parent, MethodId=method.method, InputArguments=variants
            )
            (result,) = await conn.client.uaclient.call([request])
        status = _status(result.StatusCode)
        if status.bad:
            raise BadStatus(status.code, status.name, f"{action} returned {status.name}", device=dev.name)
        outputs = result.OutputArguments or []
        return _value(outputs[0].Value) if outputs else None

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._close(self._conn)
            self._conn = None
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _device(self, device: str) -> OpcUaDevice:
        try:
            return self._devices[device]
        except KeyError:
            raise ValueError(f"{self._name}: no device {device!r} on this server") from None

    # --- the connection ---------------------------------------------------------------------------

    async def _connection(self, dev: OpcUaDevice, priority: Priority) -> _Connection:
        if self._conn is not None and self._conn.alive:
            return self._conn
        async with self.scheduler.slot(priority):
            if self._conn is not None and self._conn.alive:
                return self._conn
            if self._conn is not None:
                self.stats.losses += 1
                log.warning(
                    "%s: session lost (%s); reconnecting", self._name, self._conn.lost or "socket closed"
                )
                await self._close(self._conn)
                self._conn = None
                self._retry_at = -float("inf")  # a lost session is retried at once, then backs off
            wait = self._retry_at - self._clock()
            if wait > 0:
                last = self._last_error.reason if self._last_error else "?"
                raise DeviceUnreachable(f"next connect try in {wait:.1f} s (last: {last})", device=dev.name)
            try:
                self._conn = await self._connect(dev)
            except DriverError as exc:
                self.stats.connect_failures += 1
                self._last_error = exc
                self._retry_at = self._clock() + self._delay
                self._delay = min(2 * self._delay, self._link.reconnect.max_s)
                raise
            self._delay = self._link.reconnect.initial_s
            return self._conn

    async def _connect(self, dev: OpcUaDevice) -> _Connection:
        link = self._link
        client = Client(link.endpoint, timeout=link.timeout_s, watchdog_intervall=link.keepalive_s)
        client.application_uri = link.application_uri
        client.name = client.description = f"streetgate {self._name}"
        client.session_timeout = int(link.session_timeout_s * 1000)
        conn = _Connection(client)

        async def lost(exc: Exception) -> None:
            # Called by asyncua's supervisor. Close at once (in a task of its own: closing cancels the
            # supervisor): until the session is closed, asyncua's publish loop retries every second and
            # logs each failure as an error.
            conn.lost = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            task = asyncio.create_task(self._close(conn), name=f"opcua-close-{self._name}")
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

        client.connection_lost_callback = lost
        what = f"connecting to {link.endpoint}"
        start = time.monotonic()
        try:
            async with asyncio.timeout(link.connect_timeout_s):
                if isinstance(link.security, OpcUaSecurity):
                    await self._secure(client, link.security, dev)
                await client.connect(auto_reconnect=False)
                conn.opened = True
                conn.namespaces = list(await client.get_namespace_array())
                for d in self._devices.values():
                    await self._prepare(conn, d)
        except BaseException as exc:
            await self._close(conn)
            if isinstance(exc, Exception) and not isinstance(exc, DriverError):
                raise self._failure(exc, what, dev, round(time.monotonic() - start, 1)) from exc
            raise
        self.stats.connects += 1
        subscribed = sum(len(v) for v in conn.latest.values())
        log.info("%s: connected to %s (%d subscribed points)", self._name, link.endpoint, subscribed)
        return conn

    async def _secure(self, client: Client, sec: OpcUaSecurity, dev: OpcUaDevice) -> None:
        """Load our certificate and key and pin the server's; then check, over an unsecured channel
        (GetEndpoints is always allowed there), that the server offers our policy and mode and shows the
        pinned certificate: a server that cannot decrypt our request would otherwise just not answer."""
        policy = security_policies.SecurityPolicyBasic256Sha256
        mode = (
            ua.MessageSecurityMode.Sign
            if sec.mode is SecurityMode.SIGN
            else ua.MessageSecurityMode.SignAndEncrypt
        )
        try:
            await client.set_security(
                policy,
                certificate=sec.certificate,
                private_key=sec.private_key,
                server_certificate=sec.server_certificate,
                mode=mode,
            )
        except (OSError, ValueError, TypeError) as exc:
            files = f"{sec.certificate}, {sec.private_key}, {sec.server_certificate}"
            raise DriverError(f"cannot load the security files ({files}): {exc}", device=dev.name) from exc
        probe = Client(self._link.endpoint, timeout=self._link.timeout_s)
        endpoints = await probe.connect_and_get_server_endpoints()
        found = [e for e in endpoints if e.SecurityPolicyUri == policy.URI and e.SecurityMode == mode]
        if not found:
            offered = sorted(
                {f"{e.SecurityPolicyUri.rsplit('#', 1)[-1]} {e.SecurityMode.name}" for e in endpoints}
            )
            reason = (
                f"the server offers no Basic256Sha256 {sec.mode} endpoint (it offers {', '.join(offered)})"
            )
            raise DriverError(reason, device=dev.name)
        shown = _first_certificate(found[0].ServerCertificate or b"")
        pinned = client.security_policy.peer_certificate or b""
        if shown != pinned:
            reason = (
                f"the server shows certificate sha256:{_digest(shown)}, not server_certificate "
                f"{sec.server_certificate} (sha256:{_digest(pinned)}): renewed, or another server?"
            )
            raise DriverError(reason, device=dev.name)

    async def _prepare(self, conn: _Connection, dev: OpcUaDevice) -> None:
        """Find the device's nodes, read its subscribed points once, create its subscription."""
        client = conn.client
        nodes: dict[str, ua.NodeId | str] = {}
        with_path = [p for p in dev.points if p.path is not None]
        for p in dev.points:
            if p.node is not None:
                nodes[p.name] = self._node_id(conn, p.node)
        if with_path:
            rpaths: list[ua.RelativePath | str] = []
            for p in with_path:
                rpath = self._relative_path(conn, dev, dev.root + (p.path or ()))
                rpaths.append(rpath if isinstance(rpath, ua.RelativePath) else ua.RelativePath())
                if isinstance(rpath, str):
                    nodes[p.name] = rpath
            results = await client.translate_browsepaths(_OBJECTS, rpaths)
            for p, r in zip(with_path, results, strict=True):
                if p.name in nodes:
                    continue
                status = _status(r.StatusCode)
                if status.bad or not r.Targets:
                    where = format_path(dev.root + (p.path or ()))
                    nodes[p.name] = f"no node at {where} from Objects ({status.name})"
                else:
                    target = r.Targets[0].TargetId
                    nodes[p.name] = _node(target)
        conn.nodes[dev.name] = nodes
        subscribed = [
            p for p in dev.points if p.read is ReadMode.SUBSCRIPTION and isinstance(nodes[p.name], ua.NodeId)
        ]
        if subscribed:
            await self._subscribe(conn, dev, subscribed)

    async def _subscribe(self, conn: _Connection, dev: OpcUaDevice, points: list[OpcUaPoint]) -> None:
        client = conn.client
        ids = [conn.nodes[dev.name][p.name] for p in points]
        node_ids = [i for i in ids if isinstance(i, ua.NodeId)]
        latest: dict[str, PointValue] = {}
        seed = await client.read_attributes([client.get_node(i) for i in node_ids])
        for p, dv in zip(points, seed, strict=True):
            latest[p.name] = _decode(p, dv)
        conn.latest[dev.name] = latest
        by_node: dict[ua.NodeId, list[OpcUaPoint]] = {}
        for p, i in zip(points, node_ids, strict=True):
            by_node.setdefault(i, []).append(p)
        publishing_ms = min(p.sampling_interval_ms for p in points) or 100.0
        sub = await client.create_subscription(publishing_ms, _Updates(self, latest, by_node))
        by_interval: dict[float, list[ua.NodeId]] = {}
        for i, p in zip(node_ids, points, strict=True):
            if i not in by_interval.get(p.sampling_interval_ms, []):
                by_interval.setdefault(p.sampling_interval_ms, []).append(i)
        for interval, group in by_interval.items():
            handles = await sub.subscribe_data_change(
                [client.get_node(i) for i in group], sampling_interval=ua.Double(interval), queuesize=1
            )
            for i, h in zip(group, handles, strict=True):
                if isinstance(h, ua.StatusCode):
                    for p in by_node[i]:
                        latest[p.name] = PointValue(
                            p.name, None, f"cannot monitor {p.where()}: {_status(h).name}"
                        )

    def _node_id(self, conn: _Connection, ref: NodeRef) -> ua.NodeId | str:
        ns = self._namespace(conn, ref.namespace)
        if isinstance(ns, str):
            return ns
        match ref.kind:
            case IdKind.NUMERIC:
                return ua.NodeId(ua.Int32(int(ref.identifier)), ua.Int16(ns), ua.NodeIdType.Numeric)
            case IdKind.STRING:
                return ua.NodeId(ua.String(ref.identifier), ua.Int16(ns), ua.NodeIdType.String)
            case IdKind.GUID:
                return ua.NodeId(ua.Guid(ref.identifier), ua.Int16(ns), ua.NodeIdType.Guid)
            case IdKind.OPAQUE:
                opaque = ua.ByteString(base64.b64decode(ref.identifier))
                return ua.NodeId(opaque, ua.Int16(ns), ua.NodeIdType.ByteString)

    def _namespace(self, conn: _Connection, ns: int | str) -> int | str:
        """The index of a namespace, or why there is none (as a str)."""
        if isinstance(ns, int):
            return ns
        try:
            return conn.namespaces.index(ns)
        except ValueError:
            return f"the server has no namespace {ns!r}"

    def _relative_path(
        self, conn: _Connection, dev: OpcUaDevice, path: tuple[BrowseName, ...]
    ) -> ua.RelativePath | str:
        elements = []
        for b in path:
            ns = self._namespace(conn, b.namespace if b.namespace is not None else dev.namespace or 0)
            if isinstance(ns, str):
                return ns
            element = ua.RelativePathElement(
                ReferenceTypeId=_HIERARCHICAL, TargetName=ua.QualifiedName(b.name, ns)
            )
            element.IsInverse = False  # type: ignore[assignment]  # asyncua types it as its empty Boolean class
            element.IncludeSubtypes = True  # type: ignore[assignment]
            elements.append(element)
        return ua.RelativePath(Elements=elements)

    async def _method(
        self, conn: _Connection, dev: OpcUaDevice, action: str, path: tuple[BrowseName, ...]
    ) -> _Method:
        key = (dev.name, action)
        if key in conn.methods:
            return conn.methods[key]
        paths = [
            self._relative_path(conn, dev, dev.root + path[:-1]),
            self._relative_path(conn, dev, dev.root + path),
        ]
        for p in paths:
            if isinstance(p, str):
                raise DriverError(p, device=dev.name)
        results = await conn.client.translate_browsepaths(
            _OBJECTS, [p for p in paths if isinstance(p, ua.RelativePath)]
        )
        found = []
        for r in results:
            status = _status(r.StatusCode)
            if status.bad or not r.Targets:
                where = format_path(dev.root + path)
                raise BadStatus(
                    status.code, status.name, f"no method at {where} ({status.name})", device=dev.name
                )
            t = r.Targets[0].TargetId
            found.append(_node(t))
        parent, method = found
        arguments: list[tuple[str, ua.VariantType]] = []
        try:
            declared = await conn.client.get_node(method).get_child("0:InputArguments")
            for arg in await declared.read_value() or []:
                arguments.append(
                    (arg.Name, await data_type_to_variant_type(conn.client.get_node(arg.DataType)))
                )
        except UaStatusCodeError as exc:
            if exc.code != StatusCodes.BadNoMatch:  # a method without arguments has no InputArguments
                raise
        conn.methods[key] = _Method(parent, method, tuple(arguments))
        return conn.methods[key]

    async def _close(self, conn: _Connection) -> None:
        conn.lost = conn.lost or "closed"
        if not conn.opened:  # a failed connect: asyncua started no task, only a socket may be left
            conn.client.disconnect_socket()
            return
        conn.opened = False
        try:
            async with asyncio.timeout(self._link.timeout_s):
                await conn.client.disconnect()
        except Exception as exc:
            log.debug("%s: disconnect: %r", self._name, exc)
        finally:
            conn.client.disconnect_socket()

    # --- requests and their failures ----------------------------------------------------------------

    @asynccontextmanager
    async def _request(self, dev: OpcUaDevice, what: str, priority: Priority) -> AsyncIterator[None]:
        conn = self._conn
        timeout = dev.timeout_s or self._link.timeout_s
        async with self.scheduler.slot(priority):
            self.stats.requests += 1
            try:
                async with asyncio.timeout(timeout):
                    yield
            except DriverError:
                raise
            except Exception as exc:
                error = self._failure(exc, what, dev, timeout)
                if isinstance(error, DeviceUnreachable) and conn is not None:
                    conn.lost = conn.lost or error.reason
                raise error from exc

    def _failure(self, exc: Exception, what: str, dev: OpcUaDevice, timeout: float) -> DriverError:
        """The one translation of asyncua's exceptions."""
        if isinstance(exc, TimeoutError):
            self.stats.timeouts += 1
            return DeviceUnreachable(f"no answer within {timeout:g} s {what}", device=dev.name)
        if isinstance(exc, ConnectionError | OSError):
            return DeviceUnreachable(f"{what}: {exc or type(exc).__name__}", device=dev.name)
        if isinstance(exc, UaStatusCodeError):
            status = _status(ua.StatusCode(exc.code))
            if status.name in _LOST:
                return DeviceUnreachable(f"{what}: {status.name}", device=dev.name)
            hint = ""
            if status.name == "BadCertificateUntrusted":
                hint = " (the server does not trust our certificate: add it to the server's trust list)"
            elif status.name.startswith(("BadCertificate", "BadSecurity")):
                hint = (
                    " (check our certificate: its validity dates, and application_uri in its subjectAltName)"
                )
            reason = f"{what}: the server answered {status.name}{hint}"
            return BadStatus(status.code, status.name, reason, device=dev.name)
        if isinstance(exc, UaError) and str(exc).startswith("No matching endpoints"):
            reason = f"{what}: the server offers no endpoint for our security setting ({exc})"
            return DriverError(reason, device=dev.name)
        if isinstance(exc, UaError):
            return DriverError(f"{what}: {exc}", device=dev.name)
        return DriverError(f"{what}: unexpected {type(exc).__name__}: {exc}", device=dev.name)


def _status(code: ua.StatusCode | None) -> Status:
    if code is None:
        return Status(0, "Good")
    return Status(code.value, code.name)


def _plain(value: object) -> object:
    """asyncua's text-like values as plain Python (LocalizedText, QualifiedName); others as they are."""
    if isinstance(value, ua.LocalizedText):
        return value.Text
    if isinstance(value, ua.QualifiedName):
        return value.Name
    return value


def _first_certificate(der: bytes) -> bytes:
    """The first certificate of a DER chain (a SEQUENCE with a two-byte length)."""
    if len(der) > 4 and der[1] == 0x82:
        return der[: int.from_bytes(der[2:4], "big") + 4]
    return der


def _digest(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()[:16] if der else "none"


def _value(value: object) -> Value:
    """A method's output as a point value: a scalar as it is, text-like values as text."""
    value = _plain(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _node(target: ua.NodeId) -> ua.NodeId:
    """A plain NodeId (browse results are ExpandedNodeIds, which do not compare equal to it)."""
    return ua.NodeId(target.Identifier, target.NamespaceIndex, target.NodeIdType)


def _decode(point: OpcUaPoint, dv: ua.DataValue) -> PointValue:
    value = dv.Value.Value if dv.Value is not None else None
    return decode(point, _plain(value), _status(dv.StatusCode))
