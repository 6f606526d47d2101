"""Writes the golden payloads (run by hand when the format changes on purpose, with a new version)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from wire.commands import Command, CommandResult, ReadBack, ResultState
from wire.confirm import Confirmation, encode_confirmation
from wire.points import Quality, Reading
from wire.signing import Signer, format_public_key
from wire.telemetry import BatchKey, encode_batch

GOLDEN = Path(__file__).parent / "golden"
T = 1_767_225_600_000

BATCH_KEY = BatchKey("cab-0042", "9f3c2a61d0b7e45a", 17)
BATCH = [
    Reading("lum-07", "active_power", T, 41.5),
    Reading("lum-07", "active_energy", T, 123456),
    Reading("lum-07", "online", T, True),
    Reading("lum-08", "active_power", T + 40, None, Quality.OFFLINE, "no response within 1.0 s"),
    Reading("lum-08", "status", T + 40, None, Quality.BAD, "value not available (raw 0xFFFF)"),
    Reading("bollard-1", "state", T + 80, "up"),
    Reading("lum-07", "active_power", T + 1000, 41.25),
]
CONFIRMATION = Confirmation("9f3c2a61d0b7e45a", (17, 18), (19,))

# Test keys, published here: never used by any deployment. Ed25519 is deterministic, so the signed
# golden envelopes are byte-stable.
CENTRE = Signer("centre-2026a", bytes(range(32)))
GATEWAY = Signer("cab-0042-2026a", bytes(range(32, 64)))
COMMAND = Command(
    id=uuid.UUID("0f8e7a3c-5b2d-4e1f-9a6b-3c2d1e0f4a5b"),
    gateway="cab-0042",
    device="bollard-1",
    action="raise",
    args={"hold_s": 60, "level": 80.5, "mode": "event", "force": False, "note": None},
    issued_at_ms=T,
    expires_at_ms=T + 30_000,
    issuer="operator:alice",
    key_id=CENTRE.key_id,
)
RESULT = CommandResult(
    command_id=COMMAND.id,
    gateway="cab-0042",
    state=ResultState.FAILED,
    ts_ms=T + 1_200,
    key_id=GATEWAY.key_id,
    reason="read-back mismatch: state is 'down', expected 'up'",
    read_back=(ReadBack("state", "down", T + 1_150), ReadBack("position_pct", 12.5, T + 1_150)),
)


def expected_commands() -> dict[str, object]:
    """What the command and result envelopes hold, written independently of the codec's layout."""
    return {
        "keys": {
            CENTRE.key_id: format_public_key(CENTRE.public),
            GATEWAY.key_id: format_public_key(GATEWAY.public),
        },
        "command": {
            "id": str(COMMAND.id),
            "gateway": COMMAND.gateway,
            "device": COMMAND.device,
            "action": COMMAND.action,
            "args": dict(COMMAND.args),
            "issued_at_ms": COMMAND.issued_at_ms,
            "expires_at_ms": COMMAND.expires_at_ms,
            "issuer": COMMAND.issuer,
            "key_id": COMMAND.key_id,
        },
        "result": {
            "command_id": str(RESULT.command_id),
            "gateway": RESULT.gateway,
            "state": RESULT.state.value,
            "ts_ms": RESULT.ts_ms,
            "key_id": RESULT.key_id,
            "reason": RESULT.reason,
            "read_back": [[r.point, r.value, r.ts_ms] for r in RESULT.read_back],
        },
    }


def expected_batch() -> dict[str, object]:
    return {
        "gateway": BATCH_KEY.gateway,
        "epoch": BATCH_KEY.epoch,
        "seq": BATCH_KEY.seq,
        "readings": [[r.device, r.point, r.ts_ms, r.value, int(r.quality), r.reason] for r in BATCH],
    }


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    (GOLDEN / "telemetry-v1.msgpack").write_bytes(encode_batch(BATCH_KEY, BATCH))
    (GOLDEN / "telemetry-v1.json").write_text(json.dumps(expected_batch(), indent=1) + "\n")
    (GOLDEN / "confirm-v1.msgpack").write_bytes(encode_confirmation(CONFIRMATION))
    (GOLDEN / "command-v1.msgpack").write_bytes(CENTRE.seal_command(COMMAND))
    (GOLDEN / "result-v1.msgpack").write_bytes(GATEWAY.seal_result(RESULT))
    (GOLDEN / "commands-v1.json").write_text(json.dumps(expected_commands(), indent=1) + "\n")


if __name__ == "__main__":
    main()
