"""decode_message: good batches are accepted; anything else is rejected with a reason naming the field."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from collector.ingest.decode import Accepted, Rejected, decode_message
from tests.collector.harness import EPOCH, T0, batch_payload, readings
from wire.telemetry import BatchKey

TOPIC = "streetgate/v1/north/cab-0042/telemetry"
KEY = BatchKey("cab-0042", EPOCH, 3)


def body(**changes: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "v": 1,
        "gw": "cab-0042",
        "ep": EPOCH,
        "sq": 3,
        "s": [["lum-07", "active_power"]],
        "r": [[0, T0, 41.5, 0], [0, T0 + 1000, 42.0, 0]],
    }
    b.update(changes)
    return b


def pack(b: dict[str, Any]) -> bytes:
    return msgpack.packb(b, use_bin_type=True)


def rejected(payload: bytes, topic: str = TOPIC, max_bytes: int = 4096) -> Rejected:
    result = decode_message(topic, payload, max_bytes=max_bytes)
    assert isinstance(result, Rejected), result
    return result


def test_good_batch_is_accepted() -> None:
    result = decode_message(TOPIC, batch_payload(3, readings(2)), max_bytes=4096)
    assert isinstance(result, Accepted)
    assert (result.address.site, result.address.gateway) == ("north", "cab-0042")
    assert result.batch.key == KEY
    assert [r.value for r in result.batch.readings] == [40.0, 41.0]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (pack(body(v=2)), "v: unsupported protocol version 2"),
        (pack(body(r=[[0, 12, 41.5, 0]])), "r[0][1]: timestamp 12 is not milliseconds UTC"),
        (pack(body(r=[[0, T0, 1.0, 0], [0, T0, 1.0, 9]])), "r[1][3]: quality 9 is not one of"),
        (
            pack(body(r=[[0, T0, 1.0, 0], [1, T0, 1.0, 0]])),
            "r[1][0]: series index 1 is not in the series table",
        ),
        (pack(body(r=[[0, T0, {"a": 1}, 0]])), "r[0][2]: value of type dict"),
        (pack(body(s=[["lum-07"]])), "s[0]: series must be [device, point]"),
        (pack(body(gw="cab-0043")), "gw: payload gateway 'cab-0043' does not match topic gateway 'cab-0042'"),
    ],
)
def test_flawed_batch_with_a_readable_key(payload: bytes, reason: str) -> None:
    r = rejected(payload)
    assert r.reason.startswith(reason)
    assert r.address is not None
    assert r.address.gateway == "cab-0042"  # confirmed as rejected to the gateway that published it
    assert r.key is not None
    assert (r.key.epoch, r.key.seq) == (EPOCH, 3)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xc1\x00", "not msgpack"),
        (b"", "not msgpack"),
        (pack(body(ep="NOT-HEX")), "ep: epoch must be 16 lowercase hex digits"),
        (pack(body(sq=0)), "sq: sequence must be a positive integer"),
        (msgpack.packb([1, 2, 3]), "top level must be a map"),
    ],
)
def test_flawed_batch_without_a_key(payload: bytes, reason: str) -> None:
    r = rejected(payload)
    assert r.reason.startswith(reason)
    assert r.key is None
    assert r.gateway == "cab-0042"  # from the topic


def test_oversize_payload() -> None:
    payload = batch_payload(3, readings(200))
    r = rejected(payload, max_bytes=1024)
    assert r.reason == f"payload of {len(payload)} bytes exceeds the limit of 1024"
    assert r.key == KEY


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("other/north/cab-0042/telemetry", "topic: topic 'other/north/cab-0042/telemetry' is not under"),
        (
            "streetgate/v1/north/cab-0042/gossip",
            "topic: topic 'streetgate/v1/north/cab-0042/gossip': unknown kind",
        ),
        ("streetgate/v1/north/cab-0042/status", "topic: kind 'status' is not telemetry"),
        ("streetgate/v1/north/cab 42/telemetry", "topic: gateway 'cab 42' must be"),
    ],
)
def test_bad_topic(topic: str, reason: str) -> None:
    assert rejected(batch_payload(3, readings(1)), topic=topic).reason.startswith(reason)
