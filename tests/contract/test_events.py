"""Events and outbox frames: what the agent encodes the collector decodes, and a malformed one is refused
with the field named."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from wire.errors import PayloadError
from wire.events import Event, EventKind, FaultName, decode_event, encode_event
from wire.outbox import OutboxFrame, OutboxKey, decode_frame, encode_frame, peek_outbox_key
from wire.points import Value

T0 = 1_767_225_600_000
EPOCH = "4d2e9a0c7b1f3e58"


def body(**changes: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "v": 1,
        "kind": "lamp_failure",
        "device": "lum-07",
        "at_ms": T0,
        "details": {"led_failure": True, "level": 0, "gear": "D4i", "temp": 61.5, "code": None},
    }
    b.update(changes)
    return {k: v for k, v in b.items() if v is not ...}


def pack(b: object) -> bytes:
    return msgpack.packb(b, use_bin_type=True)


@pytest.mark.parametrize("kind", list(EventKind))
def test_an_event_of_every_kind_round_trips(kind: EventKind) -> None:
    details: dict[str, Value] = {"led_failure": True, "level": 0, "why": "gear", "t": 1.5, "n": None}
    if kind is EventKind.PRIORITY_REQUEST:
        details.update(command_id="0f8e7a3c", request_id="bus-42", state="activated", signal_group=3)
    if kind in {EventKind.FAULT_RAISED, EventKind.FAULT_CLEARED}:
        details["fault"] = "dimming_failure"
    event = Event(kind, "lum-07", T0, details)
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(
    ("details", "where", "reason"),
    [
        ({"request_id": "bus-42", "state": "queued"}, "details.command_id", "needs it, as text"),
        ({"command_id": "c", "state": "queued"}, "details.request_id", "needs it, as text"),
        ({"command_id": "c", "request_id": "bus-42", "state": 1}, "details.state", "needs it, as text"),
        ({"command_id": "c", "request_id": "r", "state": "granted"}, "details.state", "'granted' is not"),
    ],
)
def test_a_priority_request_event_names_its_command_request_and_a_known_state(
    details: dict[str, Value], where: str, reason: str
) -> None:
    with pytest.raises(PayloadError) as refused:
        decode_event(pack(body(kind="priority_request", details=details)))
    assert refused.value.where == where
    assert reason in refused.value.reason


@pytest.mark.parametrize("fault", list(FaultName))
def test_every_fault_name_round_trips_and_an_unknown_one_is_refused(fault: FaultName) -> None:
    event = Event(EventKind.FAULT_CLEARED, "lum-07", T0, {"fault": str(fault), "raised_at_ms": T0 - 1})
    assert decode_event(encode_event(event)) == event
    for bad in ("lamp_explode", None, 3):
        with pytest.raises(PayloadError) as err:
            decode_event(pack(body(kind="fault_raised", details={"fault": bad})))
        assert err.value.where == "details.fault"
        assert err.value.reason.startswith(f"{bad!r} is not one of")
    with pytest.raises(PayloadError, match="None is not one of"):
        decode_event(pack(body(kind="fault_raised", details=...)))


def test_details_may_be_left_out() -> None:
    assert decode_event(pack(body(details=...))).details == {}


@pytest.mark.parametrize(
    ("changes", "where", "reason"),
    [
        ({"v": 2}, "v", "unsupported protocol version 2"),
        ({"kind": "lamp_explode"}, "kind", "'lamp_explode' is not one of"),
        ({"kind": 3}, "kind", "3 is not one of"),
        ({"device": ""}, "device", "non-empty string"),
        ({"device": "x" * 129}, "device", "at most 128"),
        ({"at_ms": T0 / 1000}, "at_ms", "is not milliseconds UTC"),
        ({"at_ms": True}, "at_ms", "is not milliseconds UTC"),
        ({"details": [1]}, "details", "must be a map"),
        ({"details": {"t": float("nan")}}, "details.t", "NaN"),
        ({"details": {"t": [1]}}, "details.t", "value of type list"),
        ({"details": {"t": "x" * 513}}, "details.t", "exceeds 512"),
        ({"details": {f"k{i}": i for i in range(33)}}, "details", "33 entries"),
        ({"extra": 1}, "extra", "unknown event field"),
    ],
)
def test_a_malformed_event_is_refused_naming_the_field(
    changes: dict[str, Any], where: str, reason: str
) -> None:
    with pytest.raises(PayloadError) as refused:
        decode_event(pack(body(**changes)))
    assert refused.value.where == where
    assert reason in refused.value.reason


def test_an_event_that_is_not_a_map_or_not_msgpack_is_refused() -> None:
    with pytest.raises(PayloadError, match="event must be a map"):
        decode_event(pack([1]))
    with pytest.raises(PayloadError, match="not msgpack"):
        decode_event(b"\xc1")


def test_encode_refuses_what_decode_would() -> None:
    with pytest.raises(PayloadError) as refused:
        encode_event(Event(EventKind.LAMP_FAILURE, "", T0))
    assert refused.value.where == "device"


def test_a_frame_round_trips_and_its_key_can_be_peeked_even_when_broken() -> None:
    frame = OutboxFrame(OutboxKey("cab-0042", EPOCH, 3), b"\x81\xa1v\x01")
    payload = encode_frame(frame)
    assert decode_frame(payload) == frame
    broken = pack({"v": 1, "gw": "cab-0042", "ep": EPOCH, "sq": 3, "b": ""})
    assert peek_outbox_key(broken) == frame.key
    with pytest.raises(PayloadError) as refused:
        decode_frame(broken)
    assert refused.value.where == "b"


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"v": 2}, "v"),
        ({"gw": ""}, "gw"),
        ({"ep": "X" * 16}, "ep"),
        ({"sq": 0}, "sq"),
        ({"sq": True}, "sq"),
        ({"x": 1}, "x"),
    ],
)
def test_a_malformed_frame_is_refused_naming_the_field(changes: dict[str, Any], where: str) -> None:
    frame = {"v": 1, "gw": "cab-0042", "ep": EPOCH, "sq": 3, "b": b"x"} | changes
    with pytest.raises(PayloadError) as refused:
        decode_frame(pack(frame))
    assert refused.value.where == where
