"""Stand-ins for the parts a health report only observes, typed by the protocols it depends on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from edge_agent.counters import UPLINK, Counts


@dataclass
class Uplink:
    """Satisfies both :class:`~edge_agent.uplink.publisher.Counted` (the publisher's counters) and
    :class:`~mqtt_session.Connectivity` (the link's connected flag)."""

    counters: Counts = field(default_factory=lambda: Counts(UPLINK))
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def up(cls, connected: bool) -> Uplink:
        uplink = cls()
        if connected:
            uplink.connected.set()
        return uplink
