"""QoS-1 publish tracking: one future per message id, resolved by the broker's PUBACK.

The waiter registers the future right after paho accepted the message (on the loop thread, so the
PUBACK cannot come in between) and forgets it in ``finally``, whatever ended the wait. A lost
connection fails every waiting future with :class:`NotConnected`: paho may still re-send the message
on the next connection, so the caller knows only that it is not confirmed (at least once, as ever).
"""

from __future__ import annotations

import asyncio

from paho.mqtt.reasoncodes import ReasonCode

from mqtt_session.messages import NotConnected, PublishRefused


class PublishTracker:
    def __init__(self) -> None:
        self._pending: dict[int, tuple[str, asyncio.Future[None]]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def expect(self, mid: int, topic: str) -> asyncio.Future[None]:
        if mid in self._pending:  # 65,535 publishes waiting at once: a caller is not awaiting
            raise RuntimeError(f"message id {mid} is awaited already")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[mid] = (topic, future)
        return future

    def forget(self, mid: int, future: asyncio.Future[None]) -> None:
        entry = self._pending.get(mid)
        if entry is not None and entry[1] is future:
            del self._pending[mid]

    def settle(self, mid: int, reason: ReasonCode) -> None:
        """The PUBACK of ``mid`` came (a publish nobody awaits is not here: nothing to do)."""
        entry = self._pending.pop(mid, None)
        if entry is None or entry[1].done():
            return
        topic, future = entry
        if reason.is_failure:
            future.set_exception(PublishRefused(topic, str(reason)))
        else:
            future.set_result(None)

    def fail_all(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for topic, future in pending.values():
            if not future.done():
                future.set_exception(NotConnected(f"publish to {topic} not acknowledged: {why}"))
