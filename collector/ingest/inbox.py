"""The bounded queues between the collector's two MQTT sessions and the writer: live first.

One lane per session (:class:`Lane`): ``live`` takes ``.../telemetry`` (fresh batches), ``backlog``
takes ``.../telemetry/backlog`` (gateways' backlogs and re-sends). Each lane has its own bound; a full
lane refuses (:meth:`Inbox.offer` returns False, the subscriber counts and acknowledges it) without
touching the other. :meth:`Inbox.take` fills a commit from the live lane first and only then from the
backlog lane, each lane oldest first, so one gateway's backlog never holds another's live readings
behind it here.

Each message travels with the session it came on (:class:`Received`): it is acknowledged there.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from mqtt_session import Message, MqttLink
from wire.topics import TopicKind


class Lane(enum.StrEnum):
    """In the order a commit is filled."""

    LIVE = "live"
    BACKLOG = "backlog"

    @property
    def kind(self) -> TopicKind:
        """The topic kind its session subscribes to."""
        return TopicKind.TELEMETRY if self is Lane.LIVE else TopicKind.BACKLOG


@dataclass(frozen=True, slots=True)
class Received:
    message: Message
    link: MqttLink  # the session it came on, where it is acknowledged


class Inbox:
    def __init__(self, bounds: Mapping[Lane, int]) -> None:
        missing = [lane.value for lane in Lane if lane not in bounds]
        if missing:
            raise ValueError(f"inbox: no bound for lane(s) {', '.join(missing)}")
        bad = {lane.value: n for lane, n in bounds.items() if n < 1}
        if bad:
            raise ValueError(f"inbox: bounds must be at least 1, got {bad}")
        self.bounds = {lane: bounds[lane] for lane in Lane}
        self._lanes: dict[Lane, deque[Received]] = {lane: deque() for lane in Lane}
        self._arrived = asyncio.Event()

    def size(self, lane: Lane) -> int:
        return len(self._lanes[lane])

    def offer(self, lane: Lane, received: Received) -> bool:
        """Queue ``received`` in ``lane``; False (and nothing queued) when the lane is full."""
        queue = self._lanes[lane]
        if len(queue) >= self.bounds[lane]:
            return False
        queue.append(received)
        self._arrived.set()
        return True

    async def take(self, limit: int, stopping: asyncio.Event) -> list[Received]:
        """Wait for a message (or ``stopping``: then ``[]``), then take up to ``limit``: every live one
        first, then backlog ones."""
        while not any(self._lanes.values()):
            if stopping.is_set():
                return []
            self._arrived.clear()
            arrived = asyncio.ensure_future(self._arrived.wait())
            stopper = asyncio.ensure_future(stopping.wait())
            try:
                await asyncio.wait({arrived, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                arrived.cancel()
                stopper.cancel()
        taken: list[Received] = []
        for lane in Lane:
            queue = self._lanes[lane]
            while queue and len(taken) < limit:
                taken.append(queue.popleft())
        return taken
