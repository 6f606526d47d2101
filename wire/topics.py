"""Topic layout, version 1. See docs/protocol.md.

``streetgate/v1/{site}/{gateway}/{kind}``; ``kind`` is one of :class:`TopicKind`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

ROOT = "streetgate/v1"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class TopicKind(enum.StrEnum):
    TELEMETRY = "telemetry"  # gateway -> centre, QoS 1, msgpack batch: fresh (live) readings
    # gateway -> centre, QoS 1, the same msgpack batch: the backlog and re-sends (added within v1)
    BACKLOG = "telemetry/backlog"
    STATUS = "status"  # gateway -> centre, QoS 1, retained JSON; last will says offline
    CONFIRM = "confirm"  # centre -> gateway, QoS 1, msgpack: batches stored (or rejected)
    COMMAND = "cmd"  # centre -> gateway, QoS 1, signed msgpack envelope (wire.commands, wire.signing)
    COMMAND_RESULT = "cmd/result"  # gateway -> centre, QoS 1, outbox frame around a signed result envelope
    CONFIG = "config"  # centre -> gateway, retained (reserved: fleet configuration)
    EVENT = "event"  # gateway -> centre, QoS 1, outbox frame around an event (wire.outbox, wire.events)
    OUTBOX_CONFIRM = "outbox/confirm"  # centre -> gateway, QoS 1, msgpack confirmation of outbox messages
    # centre -> gateway, QoS 1, retained, signed msgpack envelope: the lighting program set (wire.lighting)
    LIGHTING = "lighting"


def check_name(kind: str, name: str) -> str:
    """Site and gateway ids become topic levels: no wildcards, separators or blanks."""
    if not NAME_RE.match(name):
        raise ValueError(
            f"{kind} {name!r} must be 1-64 characters of letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


BATCH_KINDS = frozenset({TopicKind.TELEMETRY, TopicKind.BACKLOG})  # the kinds that carry telemetry batches


def topic(site: str, gateway: str, kind: TopicKind) -> str:
    return f"{ROOT}/{site}/{gateway}/{kind.value}"


def subscription(kind: TopicKind, site: str = "+", share_group: str | None = None) -> str:
    """The filter a collector subscribes to; with ``share_group``, an MQTT 5 shared subscription."""
    filt = f"{ROOT}/{site}/+/{kind.value}"
    return f"$share/{share_group}/{filt}" if share_group else filt


@dataclass(frozen=True, slots=True)
class TopicAddress:
    site: str
    gateway: str
    kind: TopicKind


def parse_topic(name: str) -> TopicAddress:
    prefix = ROOT + "/"
    if not name.startswith(prefix):
        raise ValueError(f"topic {name!r} is not under {ROOT}/")
    parts = name[len(prefix) :].split("/", 2)
    if len(parts) != 3:
        raise ValueError(f"topic {name!r} is not {ROOT}/<site>/<gateway>/<kind>")
    site, gateway, kind = parts
    try:
        return TopicAddress(site, gateway, TopicKind(kind))
    except ValueError:
        raise ValueError(f"topic {name!r}: unknown kind {kind!r}") from None
