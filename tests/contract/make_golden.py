"""Writes the golden payloads (run by hand when the format changes on purpose, with a new version)."""

from __future__ import annotations

import json
from pathlib import Path

from wire.confirm import Confirmation, encode_confirmation
from wire.points import Quality, Reading
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


if __name__ == "__main__":
    main()
