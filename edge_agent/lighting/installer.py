"""Program sets from the centre (``.../lighting``, :mod:`wire.lighting`): checked whole, installed
durably, handed to the runner, and reported through the outbox as a ``lighting_installed`` or
``lighting_refused`` event. A refused push leaves the running set alone.

Checks, in order: the envelope's signature and key (the centre's key ring, the same as commands'); the
gateway named; the set (``lighting.model.ProgramSet``: every problem, with its path); the version rule
(newer, or a signed rollback; issued after the installed set in both cases). The broker redelivers the
retained set on every connect: the very bytes installed are taken quietly.

At start, :meth:`Installer.load` re-verifies the stored push with the ring of the day (a key revoked
since no longer runs the street) and installs it in the runner, before the centre is heard from.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from pydantic import ValidationError

from edge_agent.clock import Clock
from edge_agent.lighting.runner import LightingRunner
from edge_agent.lighting.store import Installed, LightingStore
from lighting.model import ProgramSet
from mqtt_session import Message
from wire.errors import PayloadError, SignatureError
from wire.events import Event, EventKind
from wire.lighting import LightingPush
from wire.points import Value
from wire.signing import KeyRing

log = logging.getLogger(__name__)

DEVICE = "lighting"  # the events' device: the gateway's lighting function
Report = Callable[[Event], Awaitable[None]]


class Refused(Exception):
    def __init__(self, reason: str, push: LightingPush | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.push = push


def set_problems(exc: ValidationError) -> str:
    """Every problem of a refused set, with its path: ``programs.p.steps.0.at: ...``."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'set'}: {e['msg']}" for e in exc.errors())


class Installer:
    def __init__(
        self,
        *,
        gateway: str,
        ring: KeyRing,
        store: LightingStore,
        runner: LightingRunner,
        report: Report,
        clock: Clock,
        max_queued: int = 8,
    ) -> None:
        self._gateway = gateway
        self._ring = ring
        self._store = store
        self._runner = runner
        self._report = report
        self._clock = clock
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue(max_queued)
        self.installed: Installed | None = None
        self.push: LightingPush | None = None  # the running set's push (its key id is its authority)

    def on_message(self, msg: Message) -> None:
        """The link's route for the lighting topic (runs on the loop)."""
        try:
            self._inbox.put_nowait(msg.payload)
        except asyncio.QueueFull:
            log.error("%d lighting pushes wait: one more was dropped unread", self._inbox.qsize())

    async def run(self) -> None:
        while True:
            await self.handle(await self._inbox.get())

    async def load(self) -> ProgramSet | None:
        """The stored set, re-verified, installed in the runner (None: nothing stored, or it no longer
        verifies: the runner's default applies and the centre is told)."""
        entry = await self._store.installed()
        if entry is None:
            return None
        try:
            push, pset = self._check(entry.envelope)
        except Refused as exc:
            log.error("the stored lighting set v%d no longer runs: %s", entry.version, exc.reason)
            details: dict[str, Value] = {"version": entry.version, "reason": exc.reason[:512]}
            await self._event(EventKind.LIGHTING_REFUSED, {**details, "issued_at_ms": entry.issued_at_ms})
            return None
        self.installed, self.push = entry, push
        self._runner.install(pset)
        log.info("lighting set v%d runs (installed at %d)", entry.version, entry.installed_at_ms)
        return pset

    async def handle(self, payload: bytes) -> bool:
        """Check one push and install it; True when installed."""
        if self.installed is not None and payload == self.installed.envelope:
            return False  # the retained set, redelivered on a connect
        try:
            push, pset = self._check(payload)
            self._newer(push)
        except Refused as exc:
            seen = exc.push
            log.warning("refused a lighting set%s: %s", f" v{seen.version}" if seen else "", exc.reason)
            details: dict[str, Value] = {"reason": exc.reason[:512]}
            if seen is not None:  # the answer names the push it answers
                details |= {"version": seen.version, "issued_at_ms": seen.issued_at_ms}
            await self._event(EventKind.LIGHTING_REFUSED, details)
            return False
        entry = Installed(push.version, push.issued_at_ms, payload, self._clock.now_ms())
        await self._store.install(entry)
        self.installed, self.push = entry, push
        self._runner.install(pset)
        log.info(
            "installed lighting set v%d from %s%s", push.version, push.issuer, " (rollback)" * push.rollback
        )
        details = {"version": push.version, "issued_at_ms": push.issued_at_ms, "issuer": push.issuer}
        await self._event(EventKind.LIGHTING_INSTALLED, {**details, "rollback": push.rollback})
        return True

    def _check(self, payload: bytes) -> tuple[LightingPush, ProgramSet]:
        try:
            push = self._ring.verify_push(payload)
        except (PayloadError, SignatureError) as exc:
            raise Refused(f"not authentic: {exc}") from None
        if push.gateway != self._gateway:
            raise Refused(f"for gateway {push.gateway!r}, not this one ({self._gateway})", push)
        try:
            pset = ProgramSet.model_validate(push.set)
        except ValidationError as exc:
            raise Refused(f"invalid set: {set_problems(exc)}", push) from None
        return push, pset

    def _newer(self, push: LightingPush) -> None:
        now = self.installed
        if now is None:
            return
        if push.issued_at_ms <= now.issued_at_ms:
            raise Refused(
                f"issued at {push.issued_at_ms}, not after the running set v{now.version} "
                f"({now.issued_at_ms}): a replay",
                push,
            )
        if push.version <= now.version and not push.rollback:
            raise Refused(
                f"version {push.version} is not newer than the running v{now.version} "
                "(a return to it needs a signed rollback)",
                push,
            )

    async def _event(self, kind: EventKind, details: dict[str, Value]) -> None:
        await self._report(Event(kind, DEVICE, self._clock.now_ms(), details))
