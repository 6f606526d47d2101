"""Events: what a gateway tells the centre happened (a lamp failed, a command started), through its outbox.

An event is the body of an outbox frame (:mod:`wire.outbox`) on ``.../event``; the frame carries its key.
Rarely sent and read by people, so the keys are the field names in full (as in :mod:`wire.commands`)::

    {"v": 1, "kind": "lamp_failure", "device": "lum-07", "at_ms": 1767225600000,
     "details": {"led_failure": true, "level": 0}}

``details`` maps names (1-128 characters) to scalar values (number, text, bool or nil), at most 32 of them.
Unknown keys and unknown kinds are refused: an event the centre cannot read is quarantined, not guessed.

``priority_request`` (added within version 1: a collector older than it quarantines these events) is one
state of a bus-priority request as the traffic controller reports it (RSMP S0033), once per state::

    {"v": 1, "kind": "priority_request", "device": "tlc-1", "at_ms": 1767225600000,
     "details": {"command_id": "0f8e7a3c-…", "request_id": "bus-42", "state": "activated",
                 "signal_group": 3}}

``state`` is one of :data:`PRIORITY_STATES`.

``fault_raised`` / ``fault_cleared`` (added within version 1, like ``priority_request``) carry
``details.fault``, a :class:`FaultName`; an event of these kinds without a known one is refused.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack

from wire import PROTOCOL_VERSION
from wire.errors import PayloadError
from wire.points import Value

MAX_NAME = 128
MAX_TEXT = 512
MAX_DETAILS = 32
MAX_EVENT_BYTES = 16 * 1024
TS_MIN = 946_684_800_000  # 2000-01-01: anything earlier is a clock that was never set
TS_MAX = 4_102_444_800_000  # 2100-01-01
_KEYS = frozenset({"v", "kind", "device", "at_ms", "details"})
PRIORITY_STATES = ("received", "queued", "activated", "rejected", "cooldown", "completed", "timeout", "stale")
PRIORITY_FINAL = frozenset({"rejected", "completed", "timeout", "stale"})


class EventKind(enum.StrEnum):
    LAMP_FAILURE = "lamp_failure"  # a lamp or its gear reports a failure
    LAMP_RESTORED = "lamp_restored"  # ... and the failure is gone
    COMMAND_RECEIVED = "command_received"  # a command's lifecycle, beside its signed result
    COMMAND_STARTED = "command_started"
    COMMAND_FINISHED = "command_finished"
    # the lighting program set (device "lighting"): details version, issued_at_ms, issuer, rollback
    LIGHTING_INSTALLED = "lighting_installed"
    LIGHTING_REFUSED = "lighting_refused"  # ... details version (when known) and reason: the set runs on
    # what a group (or a device outside groups) of the set is told now: details level, reason, version
    LIGHTING_LEVEL = "lighting_level"
    PRIORITY_REQUEST = "priority_request"  # a bus-priority request's state (RSMP S0033); added within v1
    # a lamp or behaviour fault judged at the edge (edge_agent/lighting/faults.py), once when raised and
    # once when cleared: details fault (a FaultName) and its evidence; cleared also raised_at_ms
    FAULT_RAISED = "fault_raised"
    FAULT_CLEARED = "fault_cleared"


class FaultName(enum.StrEnum):
    """The ``fault`` of a ``fault_raised`` / ``fault_cleared`` event (TALQ LampMonitor's failures)."""

    LAMP_FAILURE = "lamp_failure"  # the gear reports its lamp (or itself) failed
    DIMMING_FAILURE = "dimming_failure"  # the level read is not the level commanded, after the ramp
    CYCLING = "cycling"  # more switch-ons (gear starts) in a window than allowed
    DAY_BURNER = "day_burner"  # lit while the program wants it off and the sun is up
    SUPPLY_LOSS = "supply_loss"  # the supply voltage the gear measures is below the minimum
    GEAR_COMM_FAILURE = "gear_comm_failure"  # the control gear does not answer


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    device: str
    at_ms: int
    details: Mapping[str, Value] = field(default_factory=dict)


def encode_event(event: Event) -> bytes:
    """The event's bytes; raises :class:`PayloadError` for what :func:`decode_event` would refuse."""
    body = {
        "v": PROTOCOL_VERSION,
        "kind": str(event.kind),
        "device": event.device,
        "at_ms": event.at_ms,
        "details": dict(event.details),
    }
    payload: bytes = msgpack.packb(body, use_bin_type=True)
    decode_event(payload)  # the centre must be able to read what a gateway sends
    return payload


def decode_event(payload: bytes) -> Event:
    """Decode and check an event; a flaw raises :class:`PayloadError` naming the field."""
    if len(payload) > MAX_EVENT_BYTES:
        raise PayloadError("", f"event of {len(payload)} bytes exceeds the limit of {MAX_EVENT_BYTES}")
    try:
        body: Any = msgpack.unpackb(payload, raw=False, strict_map_key=True)
    except Exception as exc:
        raise PayloadError("", f"not msgpack: {exc}") from exc
    if not isinstance(body, dict):
        raise PayloadError("", f"event must be a map, got {type(body).__name__}")
    if unknown := sorted(set(body) - _KEYS, key=str):
        raise PayloadError(str(unknown[0]), "unknown event field")
    if body.get("v") != PROTOCOL_VERSION:
        raise PayloadError("v", f"unsupported protocol version {body.get('v')!r} (this side speaks 1)")
    kind = body.get("kind")
    try:
        event_kind = EventKind(kind) if isinstance(kind, str) else None
    except ValueError:
        event_kind = None
    if event_kind is None:
        raise PayloadError("kind", f"{kind!r} is not one of {[k.value for k in EventKind]}")
    device = _name(body.get("device"), "device")
    at_ms = body.get("at_ms")
    if not isinstance(at_ms, int) or isinstance(at_ms, bool) or not TS_MIN <= at_ms < TS_MAX:
        raise PayloadError("at_ms", f"timestamp {at_ms!r} is not milliseconds UTC in 2000..2100")
    details = body.get("details", {})
    if not isinstance(details, dict):
        raise PayloadError("details", "must be a map of names to values")
    if len(details) > MAX_DETAILS:
        raise PayloadError("details", f"{len(details)} entries exceed the limit of {MAX_DETAILS}")
    checked: dict[str, Value] = {}
    for name, value in details.items():
        where = f"details.{name}" if isinstance(name, str) else "details"
        checked[_name(name, where)] = _value(value, where)
    if (check := _DETAILS_CHECKS.get(event_kind)) is not None:
        check(checked)
    return Event(event_kind, device, at_ms, checked)


def _check_fault(details: Mapping[str, Value]) -> None:
    if details.get("fault") not in set(FaultName):
        raise PayloadError("details.fault", f"{details.get('fault')!r} is not one of {list(FaultName)}")


def _check_priority(details: Mapping[str, Value]) -> None:
    for key in ("command_id", "request_id", "state"):
        if not isinstance(details.get(key), str) or not details[key]:
            raise PayloadError(f"details.{key}", "a priority_request event needs it, as text")
    if details["state"] not in PRIORITY_STATES:
        raise PayloadError("details.state", f"{details['state']!r} is not one of {list(PRIORITY_STATES)}")


def _name(v: object, where: str) -> str:
    if not isinstance(v, str) or not 0 < len(v) <= MAX_NAME:
        raise PayloadError(where, f"must be a non-empty string of at most {MAX_NAME} characters")
    return v


def _value(v: object, where: str) -> Value:
    if v is None or isinstance(v, bool | int):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            raise PayloadError(where, "value is NaN")
        return v
    if isinstance(v, str):
        if len(v) > MAX_TEXT:
            raise PayloadError(where, f"text of {len(v)} characters exceeds {MAX_TEXT}")
        return v
    raise PayloadError(where, f"value of type {type(v).__name__} is not a number, text, bool or nil")


_DETAILS_CHECKS: dict[EventKind, Callable[[Mapping[str, Value]], None]] = {
    EventKind.PRIORITY_REQUEST: _check_priority,
    EventKind.FAULT_RAISED: _check_fault,
    EventKind.FAULT_CLEARED: _check_fault,
}
