"""Confirmations: the optional ``cf`` list (re-used batch keys) is backward compatible with version 1."""

from __future__ import annotations

import msgpack
import pytest

from tests.contract.make_golden import BATCH, BATCH_KEY, GOLDEN
from wire.confirm import Confirmation, decode_confirmation, encode_confirmation
from wire.errors import PayloadError
from wire.telemetry import TelemetryBatch, content_digest, decode_batch, encode_batch

EP = "9f3c2a61d0b7e45a"


def test_conflicts_round_trip_and_are_also_rejected() -> None:
    c = Confirmation(EP, (1,), (2, 3), (3,))
    body = msgpack.unpackb(encode_confirmation(c))
    assert body == {"v": 1, "ep": EP, "ok": [1], "rej": [2, 3], "cf": [3]}
    assert decode_confirmation(encode_confirmation(c)) == c


def test_without_conflicts_the_payload_is_the_version_1_one() -> None:
    c = Confirmation(EP, (17, 18), (19,))
    assert "cf" not in msgpack.unpackb(encode_confirmation(c))
    assert decode_confirmation((GOLDEN / "confirm-v1.msgpack").read_bytes()).conflicts == ()


def test_a_conflict_missing_from_rej_is_refused() -> None:
    with pytest.raises(ValueError, match="rejected one too"):
        Confirmation(EP, (), (), (4,))
    payload = msgpack.packb({"v": 1, "ep": EP, "ok": [], "rej": [], "cf": [4]})
    with pytest.raises(PayloadError, match=r"^cf: a conflicting batch must also be listed in 'rej'$"):
        decode_confirmation(payload)


def test_digest_follows_the_readings_not_the_encoding() -> None:
    def payload(series: list[list[str]], rows: list[list[object]]) -> bytes:
        body = {"v": 1, "gw": "cab-1", "ep": EP, "sq": 1, "s": series, "r": rows}
        return msgpack.packb(body, use_bin_type=True)

    t = 1_767_225_600_000
    one = decode_batch(payload([["a", "x"], ["b", "y"]], [[0, t, 1.5, 0], [1, t, 2, 0]]))
    same = decode_batch(payload([["b", "y"], ["a", "x"]], [[1, t, 1.5, 0], [0, t, 2, 0]]))
    assert content_digest(one) == content_digest(same)
    assert len(content_digest(one)) == 16
    changes: list[list[list[object]]] = [
        [[0, t, 1.5, 0], [1, t, 2.0, 0]],
        [[0, t, 1.5, 0], [1, t + 1, 2, 0]],
        [[0, t, 1.5, 0]],
    ]
    for changed in changes:
        assert content_digest(decode_batch(payload([["a", "x"], ["b", "y"]], changed))) != content_digest(one)
    batch = decode_batch(encode_batch(BATCH_KEY, BATCH))
    moved = TelemetryBatch(BATCH_KEY.__class__("cab-9", EP, 5), batch.readings)
    assert content_digest(moved) == content_digest(batch)  # the key is not content
