"""docs/protocol.md lists every check the collector makes with its reason; each row is tried here.

Two tables: telemetry ("What the collector checks") and outbox messages ("What the collector checks on
an outbox message", through :func:`collector.ingest.outbox_decode.decode_outbox_message`).

One malformed message per row goes through the collector's decode (the conflict row through the
writer's reason), and the reason must match the row's text (``…`` any text, ``[i]`` any index). A row
whose check is gone or whose text changed fails here; a new check needs a row and a case.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import msgpack
import pytest

from collector.ingest.decode import Accepted, Rejected, decode_message
from collector.ingest.outbox_decode import (
    OutboxAccepted,
    OutboxRejected,
    decode_outbox_message,
    outbox_conflict_reason,
)
from collector.ingest.writer import conflict_reason
from wire.commands import CommandResult, ResultState, encode_result
from wire.events import Event, EventKind, encode_event
from wire.outbox import OutboxKey
from wire.signing import Envelope, encode_envelope
from wire.telemetry import BatchKey, TelemetryBatch
from wire.topics import TopicAddress, TopicKind

DOC = Path(__file__).parents[2] / "docs" / "protocol.md"
TOPIC = "streetgate/v1/north/cab-0042/telemetry"
T0 = 1_767_225_600_000
MAX_BYTES = 4096


def documented(heading: str = "### What the collector checks\n") -> dict[str, str]:
    """check id -> reason pattern, from the table under ``heading`` (up to the next heading)."""
    text = re.split(r"^#", DOC.read_text().split(heading, 1)[1], flags=re.MULTILINE)[0]
    rows = re.findall(r"^\| ([a-z-]+) \| [^|]+ \| `([^`]+)`", text, flags=re.MULTILINE)
    assert rows, "the checks table is gone from docs/protocol.md"
    return dict(rows)


def body(**changes: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "v": 1,
        "gw": "cab-0042",
        "ep": "9f3c2a61d0b7e45a",
        "sq": 3,
        "s": [["lum-07", "active_power"]],
        "r": [[0, T0, 41.5, 0]],
    }
    b.update(changes)
    return b


def pack(b: object) -> bytes:
    return msgpack.packb(b, use_bin_type=True)


def row(*reading: object) -> bytes:
    return pack(body(r=[[0, T0, 41.5, 0], list(reading)]))


CASES: dict[str, tuple[str, bytes]] = {
    "topic-root": ("other/v1/north/cab-0042/telemetry", pack(body())),
    "topic-levels": ("streetgate/v1/north/telemetry", pack(body())),
    "topic-kind-known": ("streetgate/v1/north/cab-0042/weather", pack(body())),
    "topic-site": ("streetgate/v1/_north/cab-0042/telemetry", pack(body())),
    "topic-gateway": ("streetgate/v1/north/-cab/telemetry", pack(body())),
    "topic-telemetry": ("streetgate/v1/north/cab-0042/status", pack(body())),
    "size": (TOPIC, pack(body(s=[["lum", "p" * 100]] * 50))),
    "msgpack": (TOPIC, b"\xc1 not msgpack"),
    "map": (TOPIC, pack([1, 2])),
    "version": (TOPIC, pack(body(v=2))),
    "gateway": (TOPIC, pack(body(gw=""))),
    "epoch": (TOPIC, pack(body(ep="9F3C2A61D0B7E45A"))),
    "seq": (TOPIC, pack(body(sq=0))),
    "series-list": (TOPIC, pack(body(s={"a": "b"}))),
    "series-pair": (TOPIC, pack(body(s=[["lum-07"]]))),
    "series-device": (TOPIC, pack(body(s=[[7, "active_power"]]))),
    "series-point": (TOPIC, pack(body(s=[["lum-07", "x" * 129]]))),
    "readings-list": (TOPIC, pack(body(r=None))),
    "reading-shape": (TOPIC, pack(body(r=[[0, T0, 41.5]]))),
    "series-index": (TOPIC, row(1, T0, 41.5, 0)),
    "ts": (TOPIC, row(0, T0 / 1000, 41.5, 0)),
    "value-type": (TOPIC, row(0, T0, [41.5], 0)),
    "value-nan": (TOPIC, row(0, T0, float("nan"), 0)),
    "quality": (TOPIC, row(0, T0, 41.5, 3)),
    "value-nil": (TOPIC, row(0, T0, 41.5, 2, "no response within 1.0 s")),
    "reason": (TOPIC, row(0, T0, None, 1, 404)),
    "gateway-topic": ("streetgate/v1/north/cab-0043/telemetry", pack(body())),
}
STORE_CHECKS = {"conflict"}  # made by the store, in the write transaction, not by decode


def pattern(doc_reason: str) -> re.Pattern[str]:
    rx = re.escape(doc_reason).replace(re.escape("…"), ".*").replace(re.escape("[i]"), r"\[\d+\]")
    return re.compile(f"^{rx}$")


def test_every_documented_check_has_a_case_and_every_case_a_row() -> None:
    assert set(documented()) == set(CASES) | STORE_CHECKS


@pytest.mark.parametrize("check", sorted(CASES))
def test_a_message_failing_one_check_is_rejected_with_the_documented_reason(check: str) -> None:
    topic, payload = CASES[check]
    result = decode_message(topic, payload, max_bytes=MAX_BYTES)
    assert isinstance(result, Rejected), f"{check}: accepted"
    assert pattern(documented()[check]).match(result.reason), (check, result.reason)


def test_the_conflict_reason_is_the_documented_one() -> None:
    address = TopicAddress("north", "cab-0042", TopicKind.TELEMETRY)
    accepted = Accepted(address, TelemetryBatch(BatchKey("cab-0042", "9f3c2a61d0b7e45a", 3), ()))
    assert pattern(documented()["conflict"]).match(conflict_reason(accepted))


def test_the_base_message_passes_every_check() -> None:
    assert isinstance(decode_message(TOPIC, pack(body()), max_bytes=MAX_BYTES), Accepted)


# ---- outbox messages -------------------------------------------------------------------------------
OUTBOX_HEADING = "### What the collector checks on an outbox message\n"
EVENT_TOPIC = "streetgate/v1/north/cab-0042/event"
RESULT_TOPIC = "streetgate/v1/north/cab-0042/cmd/result"
OUTBOX_EPOCH = "4d2e9a0c7b1f3e58"
EVENT = encode_event(Event(EventKind.LAMP_FAILURE, "lum-07", T0, {"level": 0}))


def result(gateway: str = "cab-0042") -> bytes:
    body = encode_result(
        CommandResult(uuid.UUID(int=7), gateway, ResultState.DONE, T0, key_id="cab-0042-2026a")
    )
    return encode_envelope(Envelope(body, "cab-0042-2026a", b"\x00" * 64))


def frame(**changes: Any) -> dict[str, Any]:
    f: dict[str, Any] = {"v": 1, "gw": "cab-0042", "ep": OUTBOX_EPOCH, "sq": 3, "b": EVENT}
    f.update(changes)
    return f


OUTBOX_CASES: dict[str, tuple[str, bytes]] = {
    "topic-root": ("other/v1/north/cab-0042/event", pack(frame())),
    "topic-levels": ("streetgate/v1/north/event", pack(frame())),
    "topic-kind-known": ("streetgate/v1/north/cab-0042/weather", pack(frame())),
    "topic-site": ("streetgate/v1/_north/cab-0042/event", pack(frame())),
    "topic-gateway": ("streetgate/v1/north/-cab/event", pack(frame())),
    "topic-outbox": ("streetgate/v1/north/cab-0042/telemetry", pack(frame())),
    "size": (EVENT_TOPIC, pack(frame(b=b"x" * MAX_BYTES))),
    "msgpack": (EVENT_TOPIC, b"\xc1 not msgpack"),
    "map": (EVENT_TOPIC, pack([1, 2])),
    "version": (EVENT_TOPIC, pack(frame(v=2))),
    "frame-field": (EVENT_TOPIC, pack(frame(extra=1))),
    "gateway": (EVENT_TOPIC, pack(frame(gw=""))),
    "epoch": (EVENT_TOPIC, pack(frame(ep="4D2E9A0C7B1F3E58"))),
    "seq": (EVENT_TOPIC, pack(frame(sq=0))),
    "body": (EVENT_TOPIC, pack(frame(b=b""))),
    "gateway-topic": ("streetgate/v1/north/cab-0043/event", pack(frame())),
    "event": (EVENT_TOPIC, pack(frame(b=EVENT.replace(b"lamp_failure", b"lamp_explode")))),
    "result": (RESULT_TOPIC, pack(frame(b=EVENT))),  # an event where a result envelope belongs
    "result-gateway": (RESULT_TOPIC, pack(frame(b=result("cab-0043")))),
}
OUTBOX_STORE_CHECKS = {"conflict"}


def test_every_documented_outbox_check_has_a_case_and_every_case_a_row() -> None:
    assert set(documented(OUTBOX_HEADING)) == set(OUTBOX_CASES) | OUTBOX_STORE_CHECKS


@pytest.mark.parametrize("check", sorted(OUTBOX_CASES))
def test_an_outbox_message_failing_one_check_is_rejected_with_the_documented_reason(check: str) -> None:
    topic, payload = OUTBOX_CASES[check]
    decoded = decode_outbox_message(topic, payload, max_bytes=MAX_BYTES)
    assert isinstance(decoded, OutboxRejected), f"{check}: accepted"
    assert pattern(documented(OUTBOX_HEADING)[check]).match(decoded.reason), (check, decoded.reason)


def test_the_outbox_conflict_reason_is_the_documented_one() -> None:
    reason = outbox_conflict_reason(OutboxKey("cab-0042", OUTBOX_EPOCH, 3))
    assert pattern(documented(OUTBOX_HEADING)["conflict"]).match(reason)


@pytest.mark.parametrize(("topic", "body"), [(EVENT_TOPIC, EVENT), (RESULT_TOPIC, result())])
def test_the_base_outbox_messages_pass_every_check(topic: str, body: bytes) -> None:
    assert isinstance(decode_outbox_message(topic, pack(frame(b=body)), max_bytes=MAX_BYTES), OutboxAccepted)


def test_the_backlog_topic_takes_the_same_batch_with_the_same_checks() -> None:
    backlog = TOPIC + "/backlog"
    accepted = decode_message(backlog, pack(body()), max_bytes=MAX_BYTES)
    assert isinstance(accepted, Accepted)
    assert accepted.address == TopicAddress("north", "cab-0042", TopicKind.BACKLOG)
    rejected = decode_message(backlog, pack(body(v=2)), max_bytes=MAX_BYTES)
    assert isinstance(rejected, Rejected)
    assert pattern(documented()["version"]).match(rejected.reason)
