"""paho-mqtt driven by the asyncio loop (no paho thread): connect, reconnect, publish, manual ack.

paho's socket callbacks register the socket with the event loop, so every paho callback (connect,
message, disconnect) runs on the loop thread. The blocking TCP connect runs in an executor. Reconnects
use capped, jittered backoff so a fleet does not hammer a broker that just came back.

Messages received with ``manual_ack`` carry the connection generation they arrived on: acknowledging
after a reconnect would acknowledge a different message that reuses the id, so :meth:`MqttLink.ack`
ignores stale ones (the broker redelivers them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before reconnect attempt ``n`` (1-based): exponential, capped, with 'equal jitter'."""

    initial: float = 0.2
    cap: float = 1.5

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.cap, self.initial * (2 ** max(0, attempt - 1)))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True)
class Subscription:
    filter: str
    qos: int = 1


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    mid: int
    generation: int
    retain: bool


class NotConnected(ConnectionError):
    pass


class MqttLink:
    """One MQTT connection that stays up: ``await run()`` in a task, then publish and receive."""

    def __init__(
        self,
        *,
        client_id: str,
        host: str,
        port: int,
        on_message: Callable[[Message], None],
        subscriptions: Sequence[Subscription] = (),
        keepalive: int = 30,
        will: Will | None = None,
        clean_start: bool = True,
        session_expiry: int = 0,
        receive_maximum: int = 100,
        manual_ack: bool = False,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        on_connected: Callable[[], None] | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.on_message = on_message  # replaceable after construction
        self._subscriptions = list(subscriptions)
        self._keepalive = keepalive
        self._clean_start = clean_start
        self._session_expiry = session_expiry
        self._receive_maximum = receive_maximum
        self._backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self._on_connected_cb = on_connected
        self.generation = 0
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()  # the mirror of ``connected``, for waiters on a loss
        self.disconnected.set()
        self._lost = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._misc_task: asyncio.Task[None] | None = None
        self._closing = False
        self.connects = 0
        self.last_error: str | None = None
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=manual_ack,
        )
        c.max_inflight_messages_set(receive_maximum)
        c.max_queued_messages_set(0)
        if username is not None:
            c.username_pw_set(username, password)
        if will is not None:
            c.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_socket_open = self._on_socket_open
        c.on_socket_close = self._on_socket_close
        c.on_socket_register_write = self._on_socket_register_write
        c.on_socket_unregister_write = self._on_socket_unregister_write
        self._client = c

    # ---- lifecycle -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect and stay connected until cancelled or :meth:`close` is called."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        try:
            await self._stay_connected()
        finally:
            self._release()

    async def _stay_connected(self) -> None:
        attempt = 0
        while not self._closing:
            self._lost.clear()
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for swallows a cancellation that arrives as
                # the wait ends, and a cancelled link would then never stop (its task group hangs).
                async with asyncio.timeout(10):
                    await self._loop_run(self._connect_blocking)
                async with asyncio.timeout(max(5, self._keepalive)):  # CONNACK (or the socket closing)
                    await self._wait_connack()
            except (OSError, TimeoutError, mqtt.WebsocketConnectionError) as exc:
                self._note_failure(f"connect to {self.host}:{self.port} failed: {exc}", attempt)
                self._drop_socket()
            else:
                if self.connected.is_set():
                    attempt = 0
                    await self._lost.wait()
                else:
                    self._note_failure(f"broker {self.host}:{self.port} refused: {self.last_error}", attempt)
            if self._closing:
                break
            attempt += 1
            await asyncio.sleep(self._backoff.delay(attempt, self._rng))

    def _loop_run(self, fn: Callable[[], None]) -> asyncio.Future[None]:
        assert self._loop is not None
        return self._loop.run_in_executor(None, fn)

    def _release(self) -> None:
        """Stopped (cancelled or closed): say goodbye if we can and let go of the socket."""
        self._closing = True
        if self.connected.is_set():
            with contextlib.suppress(Exception):
                self._client.disconnect()
                self._client.loop_write()
        self.connected.clear()
        self.disconnected.set()
        self._drop_socket()
        sock = self._client.socket()
        if sock is not None:
            with contextlib.suppress(Exception):
                sock.close()
        if self._misc_task is not None:
            self._misc_task.cancel()

    async def close(self, final: tuple[str, bytes] | None = None) -> None:
        """Disconnect cleanly; ``final`` is a last retained (topic, payload) to publish first."""
        self._closing = True
        if self.connected.is_set():
            if final is not None:
                info = self._client.publish(final[0], final[1], qos=1, retain=True)
                for _ in range(50):
                    if info.is_published():
                        break
                    await asyncio.sleep(0.02)
            self._client.disconnect()
            # paho writes DISCONNECT from the loop's writer callback and only then closes the socket:
            # wait for that, or the broker never sees a clean disconnect and the socket leaks.
            for _ in range(50):
                if self._client.socket() is None:
                    break
                await asyncio.sleep(0.02)
        self._lost.set()
        await asyncio.sleep(0)
        self._drop_socket()
        sock = self._client.socket()
        if sock is not None:  # DISCONNECT could not be written in time: do not leak the descriptor
            sock.close()

    # ---- use -------------------------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        if not self.connected.is_set():
            raise NotConnected(f"not connected to {self.host}:{self.port}")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_QUEUE_SIZE):
            raise NotConnected(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
        return int(info.mid)

    def ack(self, message: Message) -> bool:
        """Acknowledge a manually acknowledged message; False if it came on an older connection."""
        if message.generation != self.generation or not self.connected.is_set():
            return False
        self._client.ack(message.mid, message.qos)
        return True

    # ---- internals -------------------------------------------------------------------------------
    def _connect_blocking(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._session_expiry
        props.ReceiveMaximum = self._receive_maximum
        self._client.connect(
            self.host, self.port, keepalive=self._keepalive, clean_start=self._clean_start, properties=props
        )

    async def _wait_connack(self) -> None:
        done = asyncio.ensure_future(self.connected.wait())
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait({done, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            done.cancel()
            lost.cancel()

    def _note_failure(self, text: str, attempt: int) -> None:
        self.last_error = text
        # The first failure of an outage is a warning; the retries that follow are debug noise.
        (log.warning if attempt == 0 else log.debug)("%s (retrying)", text)

    def _drop_socket(self) -> None:
        with contextlib.suppress(Exception):
            sock = self._client.socket()
            if sock is not None and self._loop is not None:
                self._loop.remove_reader(sock)
                self._loop.remove_writer(sock)

    def _in_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self._loop is not None
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._watch, sock)

    def _watch(self, sock: socket.socket) -> None:
        assert self._loop is not None
        self._loop.add_reader(sock, self._client.loop_read)
        if self._misc_task is None or self._misc_task.done():
            self._misc_task = self._loop.create_task(self._misc_loop(), name="mqtt-misc")

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._unwatch, sock)

    def _unwatch(self, sock: socket.socket) -> None:
        assert self._loop is not None
        with contextlib.suppress(Exception):
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)

    def _on_socket_register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._add_writer, sock)

    def _add_writer(self, sock: socket.socket) -> None:
        assert self._loop is not None
        with contextlib.suppress(Exception):
            self._loop.add_writer(sock, self._client.loop_write)

    def _on_socket_unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._remove_writer, sock)

    def _remove_writer(self, sock: socket.socket) -> None:
        assert self._loop is not None
        with contextlib.suppress(Exception):
            self._loop.remove_writer(sock)

    async def _misc_loop(self) -> None:
        # Keepalive pings and ping timeouts (a silent partition) are detected here.
        while self._client.loop_misc() == mqtt.MQTT_ERR_SUCCESS:  # noqa: ASYNC110 (paho polls)
            await asyncio.sleep(1)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self.last_error = str(reason)
            self._lost.set()
            return
        self.generation += 1
        self.connects += 1
        self.last_error = None
        for sub in self._subscriptions:
            client.subscribe(sub.filter, qos=sub.qos)
        self.disconnected.clear()
        self.connected.set()
        log.info("connected to broker %s:%d", self.host, self.port)
        if self._on_connected_cb is not None:
            self._on_connected_cb()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        self.disconnected.set()
        self._lost.set()
        if was and not self._closing:
            self.last_error = f"connection lost: {reason}"
            log.warning("lost broker %s:%d (%s); reconnecting", self.host, self.port, reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.on_message(
            Message(msg.topic, bytes(msg.payload), msg.qos, msg.mid, self.generation, bool(msg.retain))
        )
