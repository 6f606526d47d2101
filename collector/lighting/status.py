"""What each gateway does with its program sets, from what the centre pushed (``lighting_pushes``) and
what the gateway reported through its outbox (``lighting_*`` events)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from collector.config import CollectorConfig
from collector.sinks import open_lighting, open_sink
from collector.sinks.sqlite_lighting import SqliteLighting
from wire.events import EventKind
from wire.points import Value

POLL_S = 0.2


@dataclass(frozen=True, slots=True)
class GatewayLighting:
    gateway: str
    pushed_version: int | None
    pushed_at_ms: int | None
    running_version: int | None
    running_since_ms: int | None
    refused_reason: str | None  # the last refusal after the set it runs
    levels: dict[str, dict[str, Value]] = field(default_factory=dict)  # group or device -> level, reason

    def as_json(self) -> dict[str, object]:
        return {
            "gateway": self.gateway,
            "pushed_version": self.pushed_version,
            "pushed_at_ms": self.pushed_at_ms,
            "running_version": self.running_version,
            "running_since_ms": self.running_since_ms,
            "refused_reason": self.refused_reason,
            "levels": self.levels,
        }


async def gateway_status(store: SqliteLighting, gateway: str) -> GatewayLighting:
    pushes = [p for p in await store.pushes(gateway) if p.sent_at_ms is not None]
    events = await store.events(gateway)  # newest first
    running = next((e for e in events if e.kind is EventKind.LIGHTING_INSTALLED), None)
    refused = next((e for e in events if e.kind is EventKind.LIGHTING_REFUSED), None)
    if refused is not None and running is not None and refused.at_ms < running.at_ms:
        refused = None
    levels: dict[str, dict[str, Value]] = {}
    for e in events:
        if e.kind is EventKind.LIGHTING_LEVEL and e.device not in levels:
            levels[e.device] = {"level": e.details.get("level"), "reason": e.details.get("reason"),
                                "at_ms": e.at_ms}  # fmt: skip
    version = running.details.get("version") if running else None
    return GatewayLighting(
        gateway,
        pushes[0].version if pushes else None,
        pushes[0].sent_at_ms if pushes else None,
        version if isinstance(version, int) else None,
        running.at_ms if running else None,
        str(refused.details.get("reason")) if refused else None,
        levels,
    )


async def read_status(cfg: CollectorConfig, gateways: list[str]) -> list[GatewayLighting]:
    sink = await open_sink(cfg.store.url, create=False)
    await sink.close()
    store = await open_lighting(cfg.store.url)
    try:
        return [await gateway_status(store, g) for g in gateways]
    finally:
        await store.close()


async def wait_for_outcome(
    cfg: CollectorConfig, gateways: list[str], version: int, *, since_ms: int, timeout_s: float
) -> dict[str, dict[str, Value]]:
    """Each gateway's answer to ``version`` pushed at ``since_ms`` or later (the answer names the push by
    its ``issued_at_ms``), as the running collector stores it: ``installed``, ``refused`` (with the
    reason) or ``no answer``."""
    store = await open_lighting(cfg.store.url)
    answers: dict[str, dict[str, Value]] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            for g in gateways:
                if g in answers:
                    continue
                for e in await store.events(g):
                    issued = e.details.get("issued_at_ms")
                    if (
                        e.details.get("version") != version
                        or not isinstance(issued, int)
                        or issued < since_ms
                    ):
                        continue  # the answer to another push
                    if e.kind is EventKind.LIGHTING_INSTALLED:
                        answers[g] = {"state": "installed", "version": version}
                    elif e.kind is EventKind.LIGHTING_REFUSED:
                        answers[g] = {
                            "state": "refused",
                            "version": version,
                            "reason": e.details.get("reason"),
                        }
                    if g in answers:
                        break
            if len(answers) == len(gateways) or time.monotonic() > deadline:
                break
            await asyncio.sleep(POLL_S)
    finally:
        await store.close()
    return {g: answers.get(g, {"state": "no answer", "version": version}) for g in gateways}
