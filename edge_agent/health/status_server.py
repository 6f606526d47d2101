"""The running agent answers ``edge-agent status`` and ``edge-agent read`` on a local Unix socket.

One JSON request line in, one JSON response line out, then the connection closes. Requests:
``{"cmd": "status"}``, ``{"cmd": "read", "device": "lum-07"}`` (a live read through the agent's own
driver for that bus, so it queues behind the bus's other requests instead of opening the line twice) and
``{"cmd": "values", "device": "lum-07"}`` (the last values the pollers read, from
:mod:`edge_agent.state.lastvalues`: nothing goes to the bus). A device that takes commands has its
``maintenance`` flag in the status (``{"on": true, "since_ms": …, "reason": …, "command_id": …}``).
The socket file is created with mode 0660: the technician's account must be in the agent's group.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from drivers.base import Driver
from drivers.errors import DriverError
from edge_agent.buffer.store import Buffer
from edge_agent.clock import Clock
from edge_agent.counters import DROPS, Counter
from edge_agent.outbox.sender import OutboxSender
from edge_agent.outbox.store import Outbox
from edge_agent.poll.poller import DevicePoller
from edge_agent.state.lastvalues import LastValues
from edge_agent.uplink.publisher import Publisher
from mqtt_session import MqttLink

log = logging.getLogger(__name__)
MAX_REQUEST = 4096


class StatusServer:
    def __init__(
        self,
        *,
        path: Path,
        identity: dict[str, str],
        buffer: Buffer,
        link: MqttLink,
        publisher: Publisher,
        pollers: list[DevicePoller],
        clock: Clock,
        read_timeout_s: float = 10.0,
        last_values: LastValues | None = None,
        outbox: Outbox | None = None,
        outbox_sender: OutboxSender | None = None,
        maintenance: Callable[[], Mapping[str, Mapping[str, object]]] | None = None,
    ) -> None:
        self.path = path
        self._identity = identity
        self._buffer = buffer
        self._link = link
        self._publisher = publisher
        self._pollers = {p.device: p for p in pollers}
        self._clock = clock
        self._read_timeout_s = read_timeout_s
        self._last_values = last_values or LastValues()
        self._server: asyncio.AbstractServer | None = None
        self._outbox = outbox
        self._outbox_sender = outbox_sender
        self._maintenance = maintenance  # device -> its maintenance flag (the command executor's)

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a stale socket from a crashed agent
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        os.chmod(self.path, 0o660)

    async def serve(self) -> None:
        """Answer requests until cancelled (a task of the agent's, after :meth:`start`)."""
        assert self._server is not None, "start() first"
        await self._server.serve_forever()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            answer = await self.answer(line[:MAX_REQUEST])
        except (TimeoutError, ConnectionError) as exc:
            answer = {"ok": False, "error": f"request not received: {exc!r}"}
        try:
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            cmd = request["cmd"]
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "error": 'bad request: expected {"cmd": "status"} or {"cmd": "read", ...}'}
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "status": self._status,
            "read": self._read,
            "values": self._values,
        }
        handler = handlers.get(cmd)
        if handler is None:
            return {"ok": False, "error": f"unknown command {cmd!r}"}
        result: dict[str, Any] = await handler(request)
        return result

    async def _status(self, _: dict[str, Any]) -> dict[str, Any]:
        stats = await self._buffer.stats()
        now = self._clock.now_ms()
        devices: dict[str, dict[str, Any]] = {
            name: {
                "online": p.health.online,
                "last_poll_ms": p.health.last_poll_ms,
                "last_error": p.health.last_error,
                "polls": p.health.polls,
                "failures": p.health.failures,
                "bad_points": dict(p.health.bad),  # point -> reason, from the last read that had an answer
                "overruns": p.health.overruns,
                "bus": p.driver.name,
                "interval_s": p.interval_s,
            }
            for name, p in self._pollers.items()
        }
        flags = self._maintenance() if self._maintenance is not None else {}
        for name, flag in flags.items():
            if name in devices:
                devices[name]["maintenance"] = dict(flag)
        answer: dict[str, Any] = {
            "ok": True,
            **self._identity,
            "now_ms": now,
            "uplink": {
                "connected": self._link.connected.is_set(),
                "broker": f"{self._link.host}:{self._link.port}",
                "last_error": self._link.last_error,
                "in_flight_batches": self._publisher.in_flight,
                "last_confirm_ms": self._publisher.last_confirm_ms,
                **self._publisher.counters.as_dict(),
            },
            "buffer": {
                "epoch": self._buffer.epoch,
                "unsealed_readings": stats.unsealed,
                "unconfirmed_batches": stats.sealed_batches,
                "unconfirmed_readings": stats.sealed_readings,
                "oldest_age_s": None if stats.oldest_ts is None else max(0, (now - stats.oldest_ts) / 1000),
                "bytes": stats.bytes,
                "cap_bytes": stats.cap_bytes,
                "disk_free_bytes": stats.disk_free_bytes,
                "disk_full": stats.disk_full,
                **{str(k): v for k, v in stats.counters.items()},
                Counter.DROPPED: sum(stats.counters[c] for c in DROPS),
            },
            "devices": devices,
        }
        if self._outbox is not None:
            answer["outbox"] = await self._outbox_status(self._outbox)
        return answer

    async def _outbox_status(self, outbox: Outbox) -> dict[str, Any]:
        stats = await outbox.stats()
        sender = self._outbox_sender
        return {
            "epoch": stats.epoch,
            "depth": stats.depth,
            "bound": stats.bound,
            "dead_letters": stats.dead_letters,
            "refusal": stats.refusal,  # why new work is refused now, or null
            "in_flight": None if sender is None else sender.in_flight,
            "last_confirm_ms": None if sender is None else sender.last_confirm_ms,
            **{str(k): v for k, v in stats.counters.items()},
            **({} if sender is None else sender.counters.as_dict()),
        }

    async def _values(self, request: dict[str, Any]) -> dict[str, Any]:
        name = str(request.get("device"))
        if name not in self._pollers:
            return {"ok": False, "error": f"no device {name!r} in this agent's config"}
        last = self._last_values.device(name)
        return {
            "ok": True,
            "device": name,
            "values": [
                {
                    "point": r.point,
                    "value": r.value,
                    "quality": r.quality.name.lower(),
                    "reason": r.reason,
                    "ts_ms": r.ts_ms,
                }
                for r in last.values()
            ],
        }

    async def _read(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("device")
        poller = self._pollers.get(str(name))
        if poller is None:
            return {"ok": False, "error": f"no device {name!r} in this agent's config"}
        driver: Driver = poller.driver
        try:
            values = await asyncio.wait_for(driver.read(poller.device), self._read_timeout_s)
        except (DriverError, TimeoutError) as exc:
            return {"ok": False, "device": name, "error": str(exc) or "timed out"}
        return {
            "ok": True,
            "device": name,
            "ts_ms": self._clock.now_ms(),
            "values": [{"point": v.point, "value": v.value, "error": v.error} for v in values],
        }
