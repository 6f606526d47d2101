"""The centre's side of a command's life: ``collector command send --wait`` prints the final state the
gateway reported, ``command list`` and ``show`` read the audit, a result whose gateway signature does not
verify is rejected, and no result by the expiry is said as such (and is not final).

The gateway here is the test: it verifies the command with the centre's public key and answers with
results signed by its own key, framed as its outbox sends them, through a real broker to a real
collector (in-process) and its SQLite store."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from collector.config import CollectorConfig, load_config
from collector.sinks import open_sink
from collector.sinks.base import Sink
from configfile.secrets import write_secret
from harness.broker import Broker
from harness.stack import BIN
from mqtt_session import Message, MqttLink
from tests.collector.harness import running
from wire import topics
from wire.commands import CommandResult, ReadBack, ResultState
from wire.outbox import OutboxFrame, OutboxKey, encode_frame
from wire.signing import KeyRing, Signer, format_public_key, generate_key_pair, new_key_texts

GW = "cab-1"
GATEWAY_KEY = generate_key_pair()
ROGUE_KEY = generate_key_pair()


def write_config(tmp_path: Path, port: int) -> tuple[Path, KeyRing]:
    private, public_line = new_key_texts("centre-2027")
    write_secret(tmp_path / "keys" / "centre-2027.key", private)
    kid, public = public_line.split(": ", 1)
    gw_public = Signer(GW, GATEWAY_KEY.private).public
    config = tmp_path / "collector.yaml"
    config.write_text(
        f"collector_id: centre-test\nbroker: {{host: 127.0.0.1, port: {port}, keepalive_s: 10}}\n"
        f"store: {{url: 'sqlite:///store.db'}}\n"
        f"commands:\n  key_id: centre-2027\n  key_file: keys/centre-2027.key\n  default_expiry_s: 20\n"
        f"  gateways:\n    {GW}: {{site: test, keys: {{{GW}: '{format_public_key(gw_public)}'}}}}\n"
    )
    return config, KeyRing.parse({kid: public})


class Gateway:
    """Answers each command with ``accepted`` then ``done`` (or nothing, when ``silent``)."""

    def __init__(self, broker: Broker, centre: KeyRing, *, signer: Signer | None = None) -> None:
        self.centre = centre
        self.signer = signer or Signer(GW, GATEWAY_KEY.private)
        self.silent = False
        self.seq = itertools.count(1)
        self.link = MqttLink(client_id=GW, host=broker.host, port=broker.port)
        self.link.route(topics.topic("test", GW, topics.TopicKind.COMMAND), self.on_command)
        self.result_topic = topics.topic("test", GW, topics.TopicKind.COMMAND_RESULT)

    def on_command(self, msg: Message) -> None:
        if self.silent:
            return
        cmd = self.centre.verify(msg.payload)
        for state in (ResultState.ACCEPTED, ResultState.DONE):
            read_back = (ReadBack("level", 40, cmd.issued_at_ms + 500),) if state is ResultState.DONE else ()
            result = CommandResult(
                cmd.id, GW, state, cmd.issued_at_ms + 100, self.signer.key_id, None, read_back
            )
            self.publish_result(result)

    def publish_result(self, result: CommandResult) -> None:
        frame = OutboxFrame(
            OutboxKey(GW, "0123456789abcdef", next(self.seq)), self.signer.seal_result(result)
        )
        self.link.publish(self.result_topic, encode_frame(frame))


@pytest.fixture
async def centre(
    broker: Broker, tmp_path: Path
) -> AsyncIterator[tuple[Path, CollectorConfig, KeyRing, Sink]]:
    config_path, ring = write_config(tmp_path, broker.port)
    config = load_config(config_path)
    sink = await open_sink(config.store.url)
    try:
        async with running(config, sink):
            yield config_path, config, ring, sink
    finally:
        await sink.close()


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "collector"), *argv], capture_output=True, text=True, check=False, timeout=90
    )


async def with_gateway(gateway: Gateway, work: Any) -> Any:
    task = asyncio.create_task(gateway.link.run())
    try:
        await asyncio.wait_for(gateway.link.subscribed.wait(), 10)
        return await work
    finally:
        await gateway.link.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_send_wait_prints_the_final_state_and_the_audit_keeps_every_state(
    broker: Broker, centre: tuple[Path, CollectorConfig, KeyRing, Sink]
) -> None:
    config_path, _, ring, _ = centre
    args = [
        "command",
        "send",
        "-c",
        str(config_path),
        "-g",
        GW,
        "-d",
        "lum-01",
        "-a",
        "set_level",
        "--arg",
        "level=40",
    ]
    done = await with_gateway(Gateway(broker, ring), asyncio.to_thread(cli, *args, "--wait"))
    assert done.returncode == 0, done.stdout + done.stderr
    sent, audited = (json.loads(line) for line in done.stdout.strip().splitlines())
    assert audited["id"] == sent["id"]
    assert audited["status"] == "done"
    assert [s["state"] for s in audited["states"]] == ["accepted", "done"]
    assert audited["states"][1]["read_back"] == [
        {"point": "level", "value": 40, "ts_ms": sent["issued_at_ms"] + 500}
    ]
    assert audited["sent_at_ms"] is not None

    listed = cli("command", "list", "-c", str(config_path), "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert [(c["id"], c["status"], c["issuer"]) for c in json.loads(listed.stdout)] == [
        (sent["id"], "done", sent["issuer"])
    ]
    shown = cli("command", "show", sent["id"], "-c", str(config_path))
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["key_id"] == "centre-2027"
    assert cli("command", "show", "no-such-id", "-c", str(config_path)).returncode == 2


async def test_a_result_signed_by_another_key_is_rejected_by_the_centre(
    broker: Broker, centre: tuple[Path, CollectorConfig, KeyRing, Sink]
) -> None:
    """Whoever controls the broker cannot report a ``done`` that did not happen."""
    config_path, _, ring, sink = centre
    rogue = Gateway(broker, ring, signer=Signer(GW, ROGUE_KEY.private))
    args = [
        "command",
        "send",
        "-c",
        str(config_path),
        "-g",
        GW,
        "-d",
        "lum-01",
        "-a",
        "off",
        "--expires",
        "2s",
    ]
    done = await with_gateway(rogue, asyncio.to_thread(cli, *args, "--wait"))
    assert done.returncode == 1  # no verified result by the expiry
    audited = json.loads(done.stdout.strip().splitlines()[1])
    assert audited["status"] == "no result by expiry"
    assert audited["states"] == []
    quarantined = await sink.quarantined(10)
    assert len(quarantined) == 2
    assert all("signature does not verify" in q.reason for q in quarantined)


async def test_no_result_by_expiry_is_said_and_is_not_final(
    broker: Broker, centre: tuple[Path, CollectorConfig, KeyRing, Sink]
) -> None:
    config_path, _, ring, _ = centre
    gateway = Gateway(broker, ring)
    gateway.silent = True
    args = [
        "command",
        "send",
        "-c",
        str(config_path),
        "-g",
        GW,
        "-d",
        "lum-01",
        "-a",
        "off",
        "--expires",
        "1s",
    ]
    done = await with_gateway(gateway, asyncio.to_thread(cli, *args, "--wait"))
    assert done.returncode == 1
    sent = json.loads(done.stdout.strip().splitlines()[0])
    assert json.loads(done.stdout.strip().splitlines()[1])["status"] == "no result by expiry"

    # the gateway was cut off; its result lands after the outage, and the audit shows it
    late = Gateway(broker, ring)
    result = CommandResult(uuid.UUID(sent["id"]), GW, ResultState.DONE, sent["issued_at_ms"] + 5000, GW)

    async def publish_late() -> None:
        late.publish_result(result)
        async with asyncio.timeout(10):
            while True:
                shown = await asyncio.to_thread(cli, "command", "show", sent["id"], "-c", str(config_path))
                if json.loads(shown.stdout)["status"] == "done":
                    return
                await asyncio.sleep(0.2)

    await with_gateway(late, publish_late())
