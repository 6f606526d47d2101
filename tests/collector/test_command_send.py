"""``collector command send``: a command signed by the centre's key reaches the gateway's command topic
through a real broker, and the gateway's checks pass on it; bad input is refused before anything is sent."""

from __future__ import annotations

import asyncio
import getpass
import json
import subprocess
from pathlib import Path

import pytest

from configfile.secrets import write_secret
from harness.broker import Broker, free_port
from harness.stack import BIN
from mqtt_session import Message, MqttLink
from wire import topics
from wire.gate import check_command
from wire.signing import KeyRing, new_key_texts

GATEWAY_LINE = new_key_texts("cab-1")[1]


def write_config(
    tmp_path: Path, port: int, *, key_file: str = "keys/centre-2027.key"
) -> tuple[Path, KeyRing]:
    private, public_line = new_key_texts("centre-2027")
    write_secret(tmp_path / "keys" / "centre-2027.key", private)
    kid, public = public_line.split(": ", 1)
    gw_kid, gw_public = GATEWAY_LINE.split(": ", 1)
    config = tmp_path / "collector.yaml"
    config.write_text(
        f"broker: {{host: 127.0.0.1, port: {port}}}\n"
        f"store: {{url: 'sqlite:///store.db'}}\n"
        f"commands:\n  key_id: centre-2027\n  key_file: {key_file}\n  default_expiry_s: 20\n"
        f"  gateways:\n    cab-1: {{site: test, keys: {{{gw_kid}: '{gw_public}'}}}}\n"
    )
    return config, KeyRing.parse({kid: public})


def send(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "collector"), "command", "send", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


async def test_a_signed_command_reaches_the_gateways_topic(broker: Broker, tmp_path: Path) -> None:
    config, ring = write_config(tmp_path, broker.port)
    received: list[Message] = []
    got = asyncio.Event()

    def on_command(msg: Message) -> None:
        received.append(msg)
        got.set()

    gateway = MqttLink(client_id="cab-1", host=broker.host, port=broker.port)
    gateway.route(topics.topic("test", "cab-1", topics.TopicKind.COMMAND), on_command)
    task = asyncio.create_task(gateway.run())
    try:
        await asyncio.wait_for(gateway.subscribed.wait(), 10)
        args = ["--gateway", "cab-1", "--device", "lum-01", "--action", "set_level"]
        done = await asyncio.to_thread(send, config, *args, "--arg", "level=40", "--arg", "below_floor=true")
        assert done.returncode == 0, done.stderr
        await asyncio.wait_for(got.wait(), 10)
    finally:
        await gateway.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    printed = json.loads(done.stdout)
    cmd = ring.verify(received[0].payload)  # the centre's public key verifies the exact bytes received
    assert str(cmd.id) == printed["id"]
    assert (cmd.gateway, cmd.device, cmd.action) == ("cab-1", "lum-01", "set_level")
    assert cmd.args == {"level": 40, "below_floor": True}
    assert cmd.issuer == getpass.getuser()
    assert cmd.ttl_ms == 20_000  # the config's default expiry
    check_command(cmd, gateway="cab-1", now_ms=cmd.issued_at_ms + 1000, skew_ms=2000, max_ttl_ms=60_000)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gateway", "cab-9"], "unknown gateway 'cab-9' (commands.gateways lists: cab-1)"),
        (["--gateway", "cab-1", "--arg", "level"], "--arg 'level': expected name=value"),
        (["--gateway", "cab-1", "--expires", "soon"], "'soon' is not a duration"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(tmp_path: Path, args: list[str], message: str) -> None:
    config, _ = write_config(tmp_path, free_port())  # nothing listens: a send would fail with exit 1
    done = send(config, "--device", "lum-01", "--action", "off", *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr


def test_a_missing_key_file_is_refused_by_check_config_too(tmp_path: Path) -> None:
    config, _ = write_config(tmp_path, free_port(), key_file="keys/other.key")
    for argv in (["check-config", str(config)], ["command", "send", "--config", str(config), "-g", "cab-1",
                                                  "-d", "lum-01", "-a", "off"]):  # fmt: skip
        done = subprocess.run(
            [str(BIN / "collector"), *argv], capture_output=True, text=True, check=False, timeout=60
        )
        assert done.returncode == 2, done.stderr
        assert "commands.key_file" in done.stderr
        assert "other.key" in done.stderr


def test_an_unreachable_broker_exits_1(tmp_path: Path) -> None:
    config, _ = write_config(tmp_path, free_port())
    done = send(config, "-g", "cab-1", "-d", "lum-01", "-a", "off", "--timeout", "1")
    assert done.returncode == 1, done.stderr
    assert "did not take the command" in done.stderr
