"""A program-set file, checked whole, signed for a gateway and handed to the broker, retained on the
gateway's lighting topic (a gateway away gets it when it connects). Every push is recorded first, so
``rollback`` can re-sign an earlier version and ``status`` can say what was sent."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from collector.commands.send import publish_once
from collector.config import CollectorConfig
from collector.sinks import open_lighting, open_sink
from configfile.loader import YamlError, parse
from lighting.model import ProgramSet
from wire import topics
from wire.lighting import LightingPush
from wire.signing import Signer


class SetError(ValueError):
    """A program-set file that is not a valid set; the message names the file and every problem."""


def load_set(path: Path) -> dict[str, Any]:
    """The set in ``path`` as the map that is signed, once it validates; raises :class:`SetError`."""
    try:
        raw = parse(path.read_text(encoding="utf-8"), path)
    except (OSError, YamlError) as exc:
        raise SetError(f"{path}: {exc}") from None
    try:
        pset = ProgramSet.model_validate(raw)
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(str(p) for p in e['loc']) or '(set)'}: {e['msg']}" for e in exc.errors()
        )
        raise SetError(f"{path}: not a valid program set:\n{problems}") from None
    return pset.model_dump(mode="json", by_alias=True)


def lighting_topic(site: str, gateway: str) -> str:
    return topics.topic(site, gateway, topics.TopicKind.LIGHTING)


@dataclass(frozen=True, slots=True)
class PushOutcome:
    gateway: str
    version: int
    topic: str
    error: str | None  # why the broker did not take it


async def push_set(
    cfg: CollectorConfig,
    signer: Signer,
    raw: dict[str, Any],
    *,
    gateways: list[str],
    issuer: str,
    rollback: bool = False,
    timeout_s: float = 10.0,
) -> list[PushOutcome]:
    """Sign ``raw`` for each gateway, record it, publish it retained; one outcome per gateway."""
    assert cfg.commands is not None
    sink = await open_sink(cfg.store.url)  # creates or migrates the store's schema
    await sink.close()
    store = await open_lighting(cfg.store.url)
    out = []
    try:
        for gateway in gateways:
            now = time.time_ns() // 1_000_000
            push = LightingPush(gateway, int(raw["version"]), rollback, now, issuer, signer.key_id, raw)
            payload = signer.seal_push(push)
            row = await store.record(push)
            where = lighting_topic(cfg.commands.gateways[gateway].site, gateway)
            try:
                await publish_once(
                    cfg.broker.host,
                    cfg.broker.port,
                    client_id=f"{cfg.collector_id}-lighting-{gateway}"[:64],
                    topic=where,
                    payload=payload,
                    timeout_s=timeout_s,
                    retain=True,
                )
            except (TimeoutError, OSError) as exc:
                reason = str(exc) or "timeout"
                await store.send_failed(row, reason)
                out.append(PushOutcome(gateway, push.version, where, reason))
                continue
            await store.sent(row, time.time_ns() // 1_000_000)
            out.append(PushOutcome(gateway, push.version, where, None))
    finally:
        await store.close()
    return out
