"""The session with one OPC-UA server, and its reconnect back-off.

A connection is built whole, on the first request that needs it: a new asyncua ``Client`` with the
configured security (nothing survives from the last connection, so a reconnect cannot lose the security
settings), the namespaces looked up, every browse path translated, each device's polled nodes listed
and its subscription created. When the server goes away — a closed socket, or no answer to the client's
keep-alive probe — the connection is dropped; the next request builds a new one and so re-creates the
subscriptions. After a failed connect the next try waits ``reconnect.initial_s``, doubling up to
``reconnect.max_s``; requests in between fail at once with ``DeviceUnreachable``. Each of those says when
the session will try again (``retry_in_s``), so a poller's back-off follows the session's, and values
resume within the session's reconnect time of the server's return.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from asyncua import ua
from asyncua.client.client import Client
from asyncua.client.ua_client import UaClientState

from drivers.base import PointValue
from drivers.errors import DeviceUnreachable, DriverError
from drivers.opcua import address
from drivers.opcua.config import OpcUaDevice, OpcUaLink, OpcUaSecurity, ReadMode
from drivers.opcua.errors import translate
from drivers.opcua.security import secure
from drivers.opcua.subscription import subscribe
from drivers.scheduler import BusScheduler, Priority

log = logging.getLogger(__name__)


@dataclass(slots=True)
class LinkStats:
    connects: int = 0  # sessions opened
    connect_failures: int = 0
    losses: int = 0  # sessions lost while in use
    requests: int = 0  # reads, writes, calls sent
    timeouts: int = 0
    notifications: int = 0  # data changes received on subscriptions


@dataclass(slots=True)
class Connection:
    client: Client
    # device -> point -> its node, or why it has none (an unknown path, a namespace the server lacks)
    nodes: dict[str, dict[str, ua.NodeId | str]] = field(default_factory=dict)
    latest: dict[str, dict[str, PointValue]] = field(default_factory=dict)  # subscribed points
    methods: dict[tuple[str, str], address.Method] = field(default_factory=dict)
    namespaces: list[str] = field(default_factory=list)
    opened: bool = False  # a session was established (so there is one to close)
    lost: str | None = None

    @property
    def alive(self) -> bool:
        return self.lost is None and self.client.state is UaClientState.CONNECTED


class Session:
    """The connection of one driver: built on demand, dropped when lost, retried with back-off."""

    def __init__(
        self,
        name: str,
        link: OpcUaLink,
        devices: Mapping[str, OpcUaDevice],
        *,
        scheduler: BusScheduler,
        stats: LinkStats,
        clock: Callable[[], float],
    ) -> None:
        self._name = name
        self._link = link
        self._devices = devices
        self._scheduler = scheduler
        self._stats = stats
        self._clock = clock
        self.conn: Connection | None = None
        self._retry_at = -float("inf")
        self._delay = link.reconnect.initial_s
        self._last_error: DriverError | None = None
        self._closing: set[asyncio.Task[None]] = set()  # lost connections being closed

    @property
    def connected(self) -> bool:
        return self.conn is not None and self.conn.alive

    async def connection(self, dev: OpcUaDevice, priority: Priority) -> Connection:
        """The live connection, built now if there is none; DeviceUnreachable while backing off."""
        if self.conn is not None and self.conn.alive:
            return self.conn
        async with self._scheduler.slot(priority):
            if self.conn is not None and self.conn.alive:
                return self.conn
            if self.conn is not None:
                self._stats.losses += 1
                log.warning(
                    "%s: session lost (%s); reconnecting", self._name, self.conn.lost or "socket closed"
                )
                await self.close(self.conn)
                self.conn = None
                self._retry_at = -float("inf")  # a lost session is retried at once, then backs off
            wait = self._retry_at - self._clock()
            if wait > 0:
                last = self._last_error.reason if self._last_error else "?"
                raise DeviceUnreachable(
                    f"next connect try in {wait:.1f} s (last: {last})", device=dev.name, retry_in_s=wait
                )
            try:
                self.conn = await self._connect(dev)
            except DriverError as exc:
                self._stats.connect_failures += 1
                self._last_error = exc
                self._retry_at = self._clock() + self._delay
                if isinstance(exc, DeviceUnreachable):  # the poller tries again when we do
                    exc.retry_in_s = self._delay
                self._delay = min(2 * self._delay, self._link.reconnect.max_s)
                raise
            self._delay = self._link.reconnect.initial_s
            return self.conn

    async def aclose(self) -> None:
        if self.conn is not None:
            await self.close(self.conn)
            self.conn = None
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def _connect(self, dev: OpcUaDevice) -> Connection:
        link = self._link
        client = Client(link.endpoint, timeout=link.timeout_s, watchdog_intervall=link.keepalive_s)
        client.application_uri = link.application_uri
        client.name = client.description = f"streetgate {self._name}"
        client.session_timeout = int(link.session_timeout_s * 1000)
        conn = Connection(client)

        async def lost(exc: Exception) -> None:
            # Called by asyncua's supervisor. Close at once (in a task of its own: closing cancels the
            # supervisor): until the session is closed, asyncua's publish loop retries every second and
            # logs each failure as an error.
            conn.lost = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            task = asyncio.create_task(self.close(conn), name=f"opcua-close-{self._name}")
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

        client.connection_lost_callback = lost
        what = f"connecting to {link.endpoint}"
        start = time.monotonic()
        try:
            async with asyncio.timeout(link.connect_timeout_s):
                if isinstance(link.security, OpcUaSecurity):
                    await secure(client, link.security, link, dev.name)
                await client.connect(auto_reconnect=False)
                conn.opened = True
                conn.namespaces = list(await client.get_namespace_array())
                for d in self._devices.values():
                    await self._prepare(conn, d)
        except BaseException as exc:
            await self.close(conn)
            if isinstance(exc, Exception) and not isinstance(exc, DriverError):
                if isinstance(exc, TimeoutError):
                    self._stats.timeouts += 1
                raise translate(exc, what, dev.name, round(time.monotonic() - start, 1)) from exc
            raise
        self._stats.connects += 1
        subscribed = sum(len(v) for v in conn.latest.values())
        log.info("%s: connected to %s (%d subscribed points)", self._name, link.endpoint, subscribed)
        return conn

    async def _prepare(self, conn: Connection, dev: OpcUaDevice) -> None:
        """Find the device's nodes, read its subscribed points once, create its subscription."""
        nodes = await address.nodes(conn.client, conn.namespaces, dev)
        conn.nodes[dev.name] = nodes
        points, ids = [], []
        for p in dev.points:
            node = nodes[p.name]
            if p.read is ReadMode.SUBSCRIPTION and isinstance(node, ua.NodeId):
                points.append(p)
                ids.append(node)
        if points:
            conn.latest[dev.name] = await subscribe(conn.client, self._stats, points, ids)

    async def close(self, conn: Connection) -> None:
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
