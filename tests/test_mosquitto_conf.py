"""The shipped Mosquitto configuration starts a real broker (on a free port) and is accepted whole."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from harness.broker import find_mosquitto, free_port

ROOT = Path(__file__).resolve().parents[1]


def rewrite(line: str, pattern: str, new: str, text: str) -> str:
    """Replace the one line matching ``pattern``; fail if the shipped file no longer has it."""
    body, n = re.subn(pattern, new, text, flags=re.M)
    assert n == 1, f"configs/mosquitto.conf has no single {line!r} line"
    return body


def test_shipped_mosquitto_conf_starts(tmp_path: Path) -> None:
    text = (ROOT / "configs" / "mosquitto.conf").read_text()
    assert "max_queued_messages 0" in text  # no silent drop at 1000 queued messages
    port = free_port()
    # The broker's folder: not inside tmp_path, whose parents only root may enter.
    state = Path(tempfile.mkdtemp(prefix="mosquitto-conf-"))
    # The file as shipped, with two rewrites only:
    # - the listener: 1883 may be taken on the test machine (a system broker); a free port, on loopback
    #   so the test opens nothing to the network. Same directive, same meaning otherwise.
    body = rewrite("listener", r"^listener 1883$", f"listener {port} 127.0.0.1", text)
    # - the persistence folder: /var/lib/mosquitto/ belongs to the system's broker (and may not exist);
    #   the test's folder instead, where the test then finds the persistence file the broker wrote.
    body = rewrite(
        "persistence_location",
        r"^persistence_location /var/lib/mosquitto/$",
        f"persistence_location {state}/",
        body,
    )
    if os.geteuid() == 0:
        # Started as root, mosquitto drops to its own user (as the packaged service does) before it
        # writes its persistence file: give it the folder, as the package does /var/lib/mosquitto/.
        os.chown(state, pwd.getpwnam("mosquitto").pw_uid, -1)
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(body)
    proc = subprocess.Popen([find_mosquitto(), "-c", str(conf)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, f"mosquitto refused the shipped config: {proc.communicate()[1]}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"mosquitto did not listen on {port} within 10 s"
                time.sleep(0.05)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="conf-check")
        assert client.connect("127.0.0.1", port) == mqtt.MQTT_ERR_SUCCESS  # allow_anonymous as shipped
        client.disconnect()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        saved = (state / "mosquitto.db").exists()
        shutil.rmtree(state)
    assert proc.returncode == 0, err
    assert "Error" not in err, err
    assert saved, err  # persistence is on: it saved its state at the stop
