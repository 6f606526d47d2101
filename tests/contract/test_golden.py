"""Golden payloads, decoded by the agent's codec and by the collector's ingest: a change breaks both."""

from __future__ import annotations

import json
from collections.abc import Iterable

from collector.ingest.decode import Accepted, decode_message
from tests.contract.make_golden import BATCH, BATCH_KEY, CONFIRMATION, GOLDEN
from wire.confirm import decode_confirmation, encode_confirmation
from wire.points import Reading
from wire.telemetry import decode_batch, encode_batch


def expected() -> dict[str, object]:
    data: dict[str, object] = json.loads((GOLDEN / "telemetry-v1.json").read_text())
    return data


def as_rows(readings: Iterable[Reading]) -> list[list[object]]:
    return [[r.device, r.point, r.ts_ms, r.value, int(r.quality), r.reason] for r in readings]


def test_agent_encoding_is_byte_stable() -> None:
    assert encode_batch(BATCH_KEY, BATCH) == (GOLDEN / "telemetry-v1.msgpack").read_bytes()
    assert encode_confirmation(CONFIRMATION) == (GOLDEN / "confirm-v1.msgpack").read_bytes()


def test_wire_decoder_reads_golden() -> None:
    batch = decode_batch((GOLDEN / "telemetry-v1.msgpack").read_bytes())
    exp = expected()
    assert (batch.key.gateway, batch.key.epoch, batch.key.seq) == (exp["gateway"], exp["epoch"], exp["seq"])
    assert as_rows(batch.readings) == exp["readings"]
    assert decode_confirmation((GOLDEN / "confirm-v1.msgpack").read_bytes()) == CONFIRMATION


def test_collector_ingest_reads_golden() -> None:
    got = decode_message(
        "streetgate/v1/dijon-centre/cab-0042/telemetry",
        (GOLDEN / "telemetry-v1.msgpack").read_bytes(),
        max_bytes=1 << 20,
    )
    assert isinstance(got, Accepted), got
    assert as_rows(got.batch.readings) == expected()["readings"]
    assert got.address.site == "dijon-centre"
