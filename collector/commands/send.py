"""Make a command, sign it and hand it to the broker for one gateway (QoS 1: the gateway's persistent
session keeps it while the gateway is away; its expiry bounds how late it may still run)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mqtt_session import MqttLink
from wire import topics
from wire.commands import Command
from wire.points import Value
from wire.signing import Signer


@dataclass(frozen=True, slots=True)
class Addressed:
    """Where a command goes: the gateway's command topic."""

    site: str
    gateway: str

    @property
    def topic(self) -> str:
        return topics.topic(self.site, self.gateway, topics.TopicKind.COMMAND)


def parse_args(pairs: Sequence[str]) -> dict[str, Value]:
    """``level=40`` ``below_floor=true`` ``plan=3`` ``mode=auto``: ints, floats, true/false, else text.
    Raises ValueError naming the pair."""
    out: dict[str, Value] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--arg {pair!r}: expected name=value")
        if name in out:
            raise ValueError(f"--arg {name}: given twice")
        out[name] = _typed(text)
    return out


def _typed(text: str) -> Value:
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_duration(text: str) -> float:
    """``30s``, ``5m``, ``1h`` or plain seconds; raises ValueError."""
    units = {"s": 1, "m": 60, "h": 3600}
    scale = units.get(text[-1:])
    number = text[:-1] if scale else text
    try:
        seconds = float(number) * (scale or 1)
    except ValueError:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m or 1h") from None
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration must be positive")
    return seconds


def make_command(
    *,
    signer: Signer,
    gateway: str,
    device: str,
    action: str,
    args: Mapping[str, Value],
    issuer: str,
    now_ms: int,
    expires_s: float,
) -> tuple[Command, bytes]:
    """The command and its signed envelope."""
    cmd = Command(
        uuid.uuid4(),
        gateway,
        device,
        action,
        dict(args),
        now_ms,
        now_ms + round(expires_s * 1000),
        issuer,
        signer.key_id,
    )
    return cmd, signer.seal_command(cmd)


async def publish_once(
    host: str,
    port: int,
    *,
    client_id: str,
    topic: str,
    payload: bytes,
    timeout_s: float,
    retain: bool = False,
) -> None:
    """Connect, publish at QoS 1 (``retain``: kept by the broker for the next subscriber) and wait for the
    broker's PUBACK; raises TimeoutError when the broker cannot be reached or does not acknowledge within
    ``timeout_s``."""
    link = MqttLink(client_id=client_id, host=host, port=port)
    task = asyncio.create_task(link.run())
    try:
        async with asyncio.timeout(timeout_s):
            await link.connected.wait()
            await link.publish_confirmed(topic, payload, qos=1, retain=retain, puback_timeout_s=timeout_s)
    finally:
        await link.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
