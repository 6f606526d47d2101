"""The topics the uplink publishes batches on: fresh (live) batches on ``.../telemetry``, the backlog
and re-sends on ``.../telemetry/backlog`` — or everything on ``.../telemetry`` when
``uplink.backlog_topic`` is false (a collector from before the backlog topic). See docs/protocol.md."""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.config.model import UplinkConfig
from wire.topics import TopicKind, topic


@dataclass(frozen=True, slots=True)
class UplinkTopics:
    live: str  # batches of readings committed since the connection came up
    backlog: str  # batches sealed from the backlog, and every re-send

    @classmethod
    def of(cls, site: str, gateway: str, config: UplinkConfig) -> UplinkTopics:
        live = topic(site, gateway, TopicKind.TELEMETRY)
        return cls(live, topic(site, gateway, TopicKind.BACKLOG) if config.backlog_topic else live)

    @classmethod
    def single(cls, name: str) -> UplinkTopics:
        """Everything on one topic."""
        return cls(name, name)
