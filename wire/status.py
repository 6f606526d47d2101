"""Gateway status: the retained payload of ``.../status`` (JSON, for people reading the broker too)."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

from wire.errors import PayloadError


class LinkState(enum.StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"  # also the MQTT last will: the broker publishes it when the gateway vanishes


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    state: LinkState
    ts_ms: int | None = None  # None in the last will, whose time the gateway cannot know
    version: str = ""


def encode_status(s: GatewayStatus) -> bytes:
    return json.dumps({"state": s.state.value, "ts": s.ts_ms, "version": s.version}).encode()


def decode_status(payload: bytes) -> GatewayStatus:
    try:
        body = json.loads(payload)
        return GatewayStatus(LinkState(body["state"]), body.get("ts"), str(body.get("version", "")))
    except (ValueError, KeyError, TypeError) as exc:
        raise PayloadError("state", f"not a gateway status: {exc}") from exc
