"""What goes through a session: the last will, subscriptions, received messages, and the errors a
caller sees.

The errors::

    ConnectionError
    └── NotConnected         no connection now, or it was lost before the broker acknowledged
    Exception
    └── PublishRefused       the broker answered a QoS-1 publish with a failure reason code
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True)
class Subscription:
    """A topic filter (wildcards ``+`` and ``#``, ``$share/<group>/`` allowed) and its QoS."""

    filter: str
    qos: int = 1


@dataclass(frozen=True, slots=True)
class Message:
    """A received message. ``generation`` is the connection it arrived on (see ``MqttLink.ack``);
    ``subscription_ids`` the MQTT 5 identifiers of the subscriptions it came by."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    generation: int
    retain: bool
    subscription_ids: tuple[int, ...] = ()


class NotConnected(ConnectionError):
    pass


class PublishRefused(Exception):
    """The broker's PUBACK carried a failure reason code (e.g. not authorised, quota exceeded)."""

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"publish to {topic} refused by the broker: {reason}")
        self.topic = topic
        self.reason = reason


class Connectivity(Protocol):
    """What an observer of a link (the health report) reads of it: whether it is connected."""

    @property
    def connected(self) -> asyncio.Event: ...
