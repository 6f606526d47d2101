"""The shipped Mosquitto configuration starts a real broker (on a free port) and is accepted whole."""

from __future__ import annotations

import re
from pathlib import Path

from harness.broker import Broker

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_mosquitto_conf_starts(tmp_path: Path) -> None:
    text = (ROOT / "configs" / "mosquitto.conf").read_text()
    assert "max_queued_messages 0" in text  # no silent drop at 1000 queued messages
    # Same settings, but on a free port and with persistence in the test's folder.
    body = re.sub(r"^listener .*$", "", text, flags=re.M)
    body = re.sub(r"^persistence_location .*$", f"persistence_location {tmp_path}/", body, flags=re.M)
    body = re.sub(r"^log_dest .*$", "", body, flags=re.M)
    body = re.sub(r"^allow_anonymous .*$", "", body, flags=re.M)
    broker = Broker(tmp_path, extra_conf=body.replace("persistence true", "")).start()
    try:
        assert broker.proc is not None
        assert broker.proc.poll() is None
    finally:
        broker.stop()
