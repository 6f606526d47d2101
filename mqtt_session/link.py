"""The session: one MQTT 5 connection that stays up, with its routes and its waiting publishes.

``await run()`` in a task (again after :meth:`close`, to resume); :meth:`route` topic filters to
handlers before or after connecting (every route is subscribed on every connect); :meth:`publish` on
the hot path (returns at once), :meth:`publish_confirmed` to wait for the broker's PUBACK.
``subscribed`` is set (and ``on_subscribed`` called) once the broker has answered every route's
SUBSCRIBE of the current connection: from then on, what is published to those filters reaches us.

A persistent session (``clean_start=False``, ``session_expiry`` > 0 s) makes the broker keep the
subscriptions and queue matching QoS-1 messages while the link is away. ``manual_ack`` messages
carry the connection generation they arrived on: acking after a reconnect would ack another message
that reuses the id, so :meth:`ack` ignores stale ones (the broker redelivers them).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from mqtt_session.backoff import Backoff
from mqtt_session.loop_bridge import LoopBridge
from mqtt_session.messages import Message, NotConnected, Will
from mqtt_session.paho_tables import install as share_paho_tables
from mqtt_session.router import Handler, Route, Router
from mqtt_session.security import Credentials, TlsSettings, apply_credentials, apply_tls
from mqtt_session.tracking import PublishTracker

log = logging.getLogger(__name__)


class MqttLink:
    def __init__(
        self,
        *,
        client_id: str,
        host: str,
        port: int,
        keepalive: int = 30,
        will: Will | None = None,
        clean_start: bool = True,
        session_expiry: int = 0,
        receive_maximum: int = 100,
        manual_ack: bool = False,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        on_connected: Callable[[], None] | None = None,
        on_subscribed: Callable[[], None] | None = None,
        tls: TlsSettings | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.router = Router()
        self._keepalive = keepalive
        self._clean_start = clean_start
        self._session_expiry = session_expiry
        self._receive_maximum = receive_maximum
        self._manual_ack = manual_ack
        self._backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self._on_connected_cb = on_connected
        self._on_subscribed_cb = on_subscribed
        self._tls = tls
        self._tls_applied = False
        self._tracker = PublishTracker()
        self.generation = 0
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()  # the mirror of ``connected``, for waiters on a loss
        self.disconnected.set()
        self.subscribed = asyncio.Event()  # every route's SUBACK of this connection came
        self._lost = asyncio.Event()
        self._closing = False
        self.connects = 0
        self.session_resumed = False  # the broker had kept this client's session (last connect)
        self.last_error: str | None = None
        share_paho_tables()  # paho's decoder rebuilds its MQTT 5 tables per packet otherwise
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=manual_ack
        )
        c.max_inflight_messages_set(receive_maximum)
        c.max_queued_messages_set(0)
        if credentials is not None:
            apply_credentials(c, credentials)
        if will is not None:
            c.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_publish = lambda _c, _u, mid, reason, _p: self._tracker.settle(mid, reason)
        c.on_subscribe = lambda _c, _u, mid, reasons, _p: self._on_suback(
            mid, [str(r) for r in reasons if r.is_failure]
        )
        self._bridge = LoopBridge(c)
        self._client = c

    @property
    def awaiting_puback(self) -> int:
        """Publishes waiting in :meth:`publish_confirmed` (none after a disconnect)."""
        return len(self._tracker)

    # ---- lifecycle -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect and stay connected until cancelled or :meth:`close` is called."""
        self._bridge.attach()
        self._closing = False
        try:
            if self._tls is not None and not self._tls_applied:
                tls = self._tls
                await self._bridge.run_blocking(lambda: apply_tls(self._client, tls))
                self._tls_applied = True
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
                    await self._bridge.run_blocking(self._connect_blocking)
                async with asyncio.timeout(max(5, self._keepalive)):  # CONNACK (or the socket closing)
                    await self._wait_connack()
            except (OSError, TimeoutError, mqtt.WebsocketConnectionError) as exc:
                self._note_failure(f"connect to {self.host}:{self.port} failed: {exc}", attempt)
                self._bridge.drop_socket()
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

    def _release(self) -> None:
        """Stopped (cancelled or closed): say goodbye if we can and let go of the socket."""
        self._closing = True
        if self.connected.is_set():
            try:
                self._client.disconnect()
                self._client.loop_write()
            except Exception as exc:  # the socket is closed below all the same
                log.debug("no clean disconnect from %s:%d: %s", self.host, self.port, exc)
        self.connected.clear()
        self.subscribed.clear()
        self.disconnected.set()
        self._tracker.fail_all("the link stopped")
        self._bridge.release()

    async def close(self, final: tuple[str, bytes] | None = None) -> None:
        """Disconnect cleanly; ``final`` is a last retained (topic, payload) to publish first."""
        self._closing = True
        if self.connected.is_set():
            if final is not None:
                info = self._client.publish(final[0], final[1], qos=1, retain=True)
                await _until(info.is_published, 1.0)
            self._client.disconnect()
            # paho writes DISCONNECT from the loop's writer callback and only then closes the socket:
            # wait for that, or the broker never sees a clean disconnect and the socket leaks.
            await _until(lambda: self._client.socket() is None, 1.0)
        self._lost.set()
        await asyncio.sleep(0)
        self._bridge.release()  # DISCONNECT could not be written in time: do not leak the descriptor

    # ---- use -------------------------------------------------------------------------------------
    def route(self, filter: str, handler: Handler, qos: int = 1) -> None:
        """Hand messages matching ``filter`` to ``handler`` (on the loop; it must not block). Subscribed
        now if connected, and on every connect."""
        route = self.router.add(filter, handler, qos)
        if self.connected.is_set():
            self.subscribed.clear()  # set again when this one's SUBACK comes
            self._subscribe(route)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        """Hand the message to paho and return its message id, without waiting for the broker."""
        return int(self._publish(topic, payload, qos, retain).mid)

    async def publish_confirmed(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, puback_timeout_s: float = 10.0
    ) -> None:
        """Publish and wait for the broker's PUBACK (QoS 0: until written). Raises
        :class:`NotConnected` (not connected, or lost before the PUBACK), :class:`PublishRefused` (a
        failure reason code) or :class:`TimeoutError`."""
        info = self._publish(topic, payload, qos, retain)
        if info.is_published():
            return
        future = self._tracker.expect(info.mid, topic)
        try:
            async with asyncio.timeout(puback_timeout_s):
                await future
        finally:
            self._tracker.forget(info.mid, future)

    def ack(self, message: Message) -> bool:
        """Acknowledge a manually acknowledged message; False if it came on an older connection."""
        if message.generation != self.generation or not self.connected.is_set():
            return False
        self._client.ack(message.mid, message.qos)
        return True

    # ---- internals -------------------------------------------------------------------------------
    def _publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> mqtt.MQTTMessageInfo:
        if not self.connected.is_set():
            raise NotConnected(f"not connected to {self.host}:{self.port}")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_QUEUE_SIZE):
            raise NotConnected(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
        return info

    def _subscribe(self, route: Route) -> None:
        props = Properties(PacketTypes.SUBSCRIBE)  # type: ignore[no-untyped-call]
        props.SubscriptionIdentifier = route.identifier
        sub = route.subscription
        _, mid = self._client.subscribe(sub.filter, qos=sub.qos, properties=props)
        if mid is not None:
            self.router.subscribing(mid, sub.filter)

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
        self.session_resumed = bool(flags.session_present)
        self.router.forget_pending()
        self.subscribed.clear()
        for route in self.router.routes:
            self._subscribe(route)
        self.disconnected.clear()
        self.connected.set()
        resumed = " (session resumed)" if self.session_resumed else ""
        log.info("connected to broker %s:%d%s", self.host, self.port, resumed)
        if self._on_connected_cb is not None:
            self._on_connected_cb()
        self._note_subscribed()

    def _on_suback(self, mid: int, failures: list[str]) -> None:
        self.router.subscribed(mid, failures)
        self._note_subscribed()

    def _note_subscribed(self) -> None:
        if self.connected.is_set() and not self.router.pending and not self.subscribed.is_set():
            self.subscribed.set()
            if self._on_subscribed_cb is not None:
                self._on_subscribed_cb()

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
        self.subscribed.clear()
        self.disconnected.set()
        self._lost.set()
        self._tracker.fail_all(f"connection lost ({reason})")
        if was and not self._closing:
            self.last_error = f"connection lost: {reason}"
            log.warning("lost broker %s:%d (%s); reconnecting", self.host, self.port, reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        ids = getattr(msg.properties, "SubscriptionIdentifier", None) or ()
        message = Message(
            msg.topic, bytes(msg.payload), msg.qos, msg.mid, self.generation, bool(msg.retain), tuple(ids)
        )
        if not self.router.dispatch(message) and self._manual_ack:
            self.ack(message)  # dropped: do not let it hold one of the broker's in-flight slots


async def _until(condition: Callable[[], bool], seconds: float) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
