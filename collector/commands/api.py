"""The control room's Python API for commands: :class:`CommandCentre`. It does what ``collector command``
does (the CLI is built on it): sign a command with the centre's key, record it in the audit and hand it to
the broker for the gateway (:meth:`~CommandCentre.send`), wait for its final state
(:meth:`~CommandCentre.wait`), list the audit (:meth:`~CommandCentre.listing`) and show one command
(:meth:`~CommandCentre.show`). The results reach the audit through the collector that runs
(``collector run``), which verifies and stores what the gateways send::

    centre = CommandCentre.load(Path("/etc/streetgate/collector.yaml"))
    cmd = await centre.send("cab-0042", "site-7", "lower", issuer="operator:alice")
    audited = await centre.wait(cmd.id)  # None: not in the audit; audited.final: None if no result yet
    print(audited.status(now_ms) if audited else "?")

Errors: :class:`BadCommand` (the config has no ``commands:`` section, an unknown gateway, a bad key file
or expiry: nothing was sent), :class:`NotSent` (the broker did not take it; recorded in the audit as
``not sent``), :class:`~collector.errors.StoreError` (the store).
"""

from __future__ import annotations

import asyncio
import getpass
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TypeVar

from collector.commands.config import CommandsConfig
from collector.commands.send import Addressed, make_command, publish_once
from collector.config import CollectorConfig, load_config
from collector.errors import CollectorError
from collector.sinks import open_audit, open_sink
from collector.sinks.sqlite_audit import Audited, SqliteAudit
from wire.commands import Command
from wire.points import Value

WAIT_GRACE_S = 5.0  # how long after its expiry a late result is still waited for
POLL_S = 0.2
T = TypeVar("T")


class BadCommand(CollectorError, ValueError):
    """Nothing was sent: the request or the config cannot make a command (the message says why)."""


class NotSent(CollectorError):
    """The broker did not take the command (``reason``); the audit records it as not sent."""

    def __init__(self, command: Command, reason: str) -> None:
        super().__init__(reason)
        self.command = command
        self.reason = reason


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class CommandCentre:
    def __init__(
        self, config: CollectorConfig, *, base: Path | None = None, now_ms: Callable[[], int] = _now_ms
    ) -> None:
        """``base``: where a relative ``commands.key_file`` is (the config file's folder)."""
        self.config = config
        self._base = base
        self._now_ms = now_ms

    @classmethod
    def load(cls, path: Path) -> CommandCentre:
        """From a collector config file; raises :class:`~collector.errors.ConfigError`."""
        return cls(load_config(path), base=path.parent.resolve())

    @property
    def commands(self) -> CommandsConfig:
        if self.config.commands is None:
            raise BadCommand("no commands: section (the centre's key_id and key_file, the gateways' keys)")
        return self.config.commands

    def address(self, gateway: str) -> Addressed:
        """Where commands for ``gateway`` go; raises :class:`BadCommand` for a gateway not configured."""
        target = self.commands.gateways.get(gateway)
        if target is None:
            known = ", ".join(sorted(self.commands.gateways)) or "none"
            raise BadCommand(f"unknown gateway {gateway!r} (commands.gateways lists: {known})")
        return Addressed(target.site, gateway)

    async def send(
        self,
        gateway: str,
        device: str,
        action: str,
        args: Mapping[str, Value] | None = None,
        *,
        expires_s: float | None = None,
        issuer: str | None = None,
        timeout_s: float = 10.0,
    ) -> Command:
        """Sign the command, record it in the audit, publish it (QoS 1) and record that the broker took
        it. Returns the command (``.id``). ``expires_s``: valid for that long (the config's default);
        ``issuer``: who asks (the OS user)."""
        where = self.address(gateway)
        valid_s = self.commands.default_expiry_s if expires_s is None else expires_s
        if not valid_s > 0:
            raise BadCommand(f"expires_s must be positive, got {valid_s}")
        try:
            signer = self.commands.signer(self._base)
        except ValueError as exc:
            raise BadCommand(str(exc)) from None
        cmd, payload = make_command(
            signer=signer,
            gateway=gateway,
            device=device,
            action=action,
            args=dict(args or {}),
            issuer=issuer or getpass.getuser(),
            now_ms=self._now_ms(),
            expires_s=valid_s,
        )

        async def publish(audit: SqliteAudit) -> None:
            await audit.record(cmd)
            try:
                await publish_once(
                    self.config.broker.host,
                    self.config.broker.port,
                    client_id=f"{self.config.collector_id}-cmd-{cmd.id.hex[:8]}",
                    topic=where.topic,
                    payload=payload,
                    timeout_s=timeout_s,
                )
            except (TimeoutError, OSError) as exc:
                reason = str(exc) or "timeout"
                await audit.send_failed(cmd.id, reason)
                raise NotSent(cmd, reason) from exc
            await audit.sent(cmd.id, self._now_ms())

        await self._with_audit(publish, create=True)
        return cmd

    async def wait(self, command_id: uuid.UUID | str, *, timeout_s: float | None = None) -> Audited | None:
        """The command's audit once it has a final state, or as it stands when ``timeout_s`` passed
        (default: until its expiry plus a grace of 5 s). None: no such command in the audit."""

        async def poll(audit: SqliteAudit) -> Audited | None:
            audited = await audit.get(str(command_id))
            if audited is None:
                return None
            limit = timeout_s
            if limit is None:
                limit = max(0.0, (audited.expires_at_ms - self._now_ms()) / 1000) + WAIT_GRACE_S
            deadline = time.monotonic() + limit
            while audited is not None and audited.final is None and time.monotonic() < deadline:
                await asyncio.sleep(POLL_S)
                audited = await audit.get(str(command_id))
            return audited

        return await self._with_audit(poll)

    async def listing(self, *, gateway: str | None = None, since_ms: int = 0) -> list[Audited]:
        """The audit: commands issued since ``since_ms``, newest first (of one gateway, if given)."""
        return await self._with_audit(lambda audit: audit.listing(gateway=gateway, since_ms=since_ms))

    async def show(self, command_id: uuid.UUID | str) -> Audited | None:
        """One command's audit (every state with its time), or None."""
        return await self._with_audit(lambda audit: audit.get(str(command_id)))

    async def _with_audit(self, use: Callable[[SqliteAudit], Awaitable[T]], *, create: bool = False) -> T:
        sink = await open_sink(self.config.store.url, create=create)  # creates or migrates the schema
        await sink.close()
        audit = await open_audit(self.config.store.url)
        try:
            return await use(audit)
        finally:
            await audit.close()
