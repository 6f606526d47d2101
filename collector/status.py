"""The collector's own status on the broker: ``streetgate/v1/_collectors/<collector_id>/status``.

Retained JSON in the gateways' status format (``{"state": "online"|"offline", "ts": ms, "version"}``):
``online`` on every connect, ``offline`` published on a clean stop, and ``offline`` with ``ts: null``
as the MQTT last will when the collector vanishes. ``_collectors`` cannot be a site name (those start
with a letter or digit), so it never collides with a gateway's topics.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

from mqtt_session import Will
from wire.status import GatewayStatus, LinkState, encode_status
from wire.topics import ROOT


def status_topic(collector_id: str) -> str:
    return f"{ROOT}/_collectors/{collector_id}/status"


def package_version() -> str:
    try:
        return metadata.version("streetgate")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


@dataclass(frozen=True, slots=True)
class CollectorStatus:
    collector_id: str
    version: str

    @property
    def topic(self) -> str:
        return status_topic(self.collector_id)

    def payload(self, state: LinkState, ts_ms: int | None) -> bytes:
        return encode_status(GatewayStatus(state, ts_ms, self.version))

    def will(self) -> Will:
        return Will(self.topic, self.payload(LinkState.OFFLINE, None), qos=1, retain=True)
