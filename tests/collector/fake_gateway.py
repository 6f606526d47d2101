"""A gateway reduced to its MQTT side: publishes telemetry, collects confirmations and collector status."""

from __future__ import annotations

import asyncio
from types import TracebackType

from collector.status import status_topic
from mqtt_session import Message, MqttLink
from wire.confirm import Confirmation, decode_confirmation
from wire.status import GatewayStatus, LinkState, decode_status
from wire.topics import TopicKind, topic


class FakeGateway:
    def __init__(self, host: str, port: int, *, site: str, gateway: str, collector_id: str) -> None:
        self.site, self.gateway = site, gateway
        self.confirmations: asyncio.Queue[Confirmation] = asyncio.Queue()
        self.statuses: asyncio.Queue[GatewayStatus] = asyncio.Queue()
        self._status_topic = status_topic(collector_id)
        self.link = MqttLink(client_id=f"fake-{gateway}", host=host, port=port)
        self.link.route(topic(site, gateway, TopicKind.CONFIRM), self._on_confirmation)
        self.link.route(self._status_topic, self._on_status)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> FakeGateway:
        self._task = asyncio.create_task(self.link.run(), name=f"fake-{self.gateway}")
        await asyncio.wait_for(self.link.subscribed.wait(), 5)
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.link.close()
        if self._task is not None:
            await asyncio.wait_for(self._task, 5)

    def publish(
        self, payload: bytes, *, gateway: str | None = None, kind: TopicKind = TopicKind.TELEMETRY
    ) -> None:
        self.link.publish(topic(self.site, gateway or self.gateway, kind), payload, qos=1)

    async def publish_confirmed(self, payload: bytes, *, kind: TopicKind = TopicKind.TELEMETRY) -> None:
        """Published, and the broker has it (PUBACK)."""
        await self.link.publish_confirmed(topic(self.site, self.gateway, kind), payload, qos=1)

    async def confirmation(self, timeout: float = 5.0) -> Confirmation:
        return await asyncio.wait_for(self.confirmations.get(), timeout)

    async def collector_online(self, timeout: float = 5.0) -> None:
        """Until the collector announces itself; it subscribed before, on the same connection."""
        async with asyncio.timeout(timeout):
            while (await self.statuses.get()).state is not LinkState.ONLINE:
                pass

    def _on_status(self, m: Message) -> None:
        self.statuses.put_nowait(decode_status(m.payload))

    def _on_confirmation(self, m: Message) -> None:
        self.confirmations.put_nowait(decode_confirmation(m.payload))
