"""Golden payloads, decoded by the agent's codec and by the collector's ingest: a change breaks both."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from collector.ingest.decode import Accepted, decode_message
from tests.contract.make_golden import (
    BATCH,
    BATCH_KEY,
    CENTRE,
    COMMAND,
    CONFIRMATION,
    GATEWAY,
    GOLDEN,
    RESULT,
)
from wire.confirm import decode_confirmation, encode_confirmation
from wire.points import Reading
from wire.signing import KeyRing
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


def expected_commands() -> dict[str, Any]:
    return json.loads((GOLDEN / "commands-v1.json").read_text())  # type: ignore[no-any-return]


def test_command_envelopes_are_byte_stable() -> None:
    assert CENTRE.seal_command(COMMAND) == (GOLDEN / "command-v1.msgpack").read_bytes()
    assert GATEWAY.seal_result(RESULT) == (GOLDEN / "result-v1.msgpack").read_bytes()


def test_golden_command_and_result_verify_with_the_published_keys() -> None:
    """Read with nothing but the golden files: the keys in their text form and the expected fields."""
    exp = expected_commands()
    ring = KeyRing.parse(exp["keys"])  # at a gateway or at the centre: the same ring, either signer
    cmd = ring.verify((GOLDEN / "command-v1.msgpack").read_bytes())
    assert {
        "id": str(cmd.id),
        "gateway": cmd.gateway,
        "device": cmd.device,
        "action": cmd.action,
        "args": dict(cmd.args),
        "issued_at_ms": cmd.issued_at_ms,
        "expires_at_ms": cmd.expires_at_ms,
        "issuer": cmd.issuer,
        "key_id": cmd.key_id,
    } == exp["command"]
    assert {k: type(v) for k, v in cmd.args.items()} == {
        k: type(v) for k, v in exp["command"]["args"].items()
    }
    result = ring.verify_result((GOLDEN / "result-v1.msgpack").read_bytes())
    assert {
        "command_id": str(result.command_id),
        "gateway": result.gateway,
        "state": result.state.value,
        "ts_ms": result.ts_ms,
        "key_id": result.key_id,
        "reason": result.reason,
        "read_back": [[r.point, r.value, r.ts_ms] for r in result.read_back],
    } == exp["result"]
