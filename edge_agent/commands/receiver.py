"""The gateway's side of a command, from the bytes on its command topic to the result in its outbox.

In the order of ``docs/protocol.md`` ("Checks, in order"), before any interlock or device I/O:

1. envelope, key and signature (the centre's key ring), then the body: failing gets **no result** (the
   id cannot be trusted, and answering would make the gateway sign whatever anyone publishes); counted
   as ``commands_unauthentic_total`` and logged;
2. gateway, expiry, issue time and time to live (:func:`wire.gate.check_command`, the action's maximum
   from the runner): a signed ``refused`` or ``expired`` result;
3. the outbox has room for the results (else ``refused`` with the outbox's reason, so that no result is
   ever dropped);
4. the ledger: an id seen before is a replay (or the broker's redelivery) and gets **no second result**
   (``commands_replayed_total``); one issued before the ledger's horizon is ``refused``; otherwise the id
   is committed as ``accepted``, an ``accepted`` result is queued, and the runner executes the command
   (interlocks on a fresh read, the write, the read-back) and returns the final result.

After a restart, :meth:`Receiver.recover` reports every command accepted without a final state as
``failed: outcome unknown`` and never runs it again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Protocol

from edge_agent.clock import Clock
from edge_agent.commands.ledger import Ledger
from edge_agent.counters import COMMANDS, Counter, Counts
from mqtt_session import Message
from wire.commands import Command, CommandResult, ResultState
from wire.errors import PayloadError, Refusal, Replayed, SignatureError
from wire.gate import check_command, refusal_result
from wire.signing import KeyRing, Signer

log = logging.getLogger(__name__)

OUTCOME_UNKNOWN = "outcome unknown: the agent stopped between accepting the command and its result"


class Results(Protocol):
    """Where signed results go: the agent's outbox (durable, confirmed by the collector)."""

    def refusal(self) -> str | None:
        """Why no new command can be taken now (the outbox is full), or None."""
        ...

    async def put_result(self, payload: bytes) -> None: ...


class Runner(Protocol):
    """Executes admitted commands: interlocks against a fresh read, the write or call, the read-back."""

    def max_ttl_ms(self, device: str, action: str) -> int:
        """The action's maximum time to live; raises :class:`Refusal` for an unknown device or action."""
        ...

    async def run(self, cmd: Command) -> CommandResult:
        """The final result. Never retries a write; raises nothing that is not a bug."""
        ...


class Receiver:
    def __init__(
        self,
        *,
        gateway: str,
        ring: KeyRing,
        signer: Signer,
        ledger: Ledger,
        runner: Runner,
        results: Results,
        clock: Clock,
        skew_ms: int,
        max_queued: int = 256,
    ) -> None:
        self._gateway = gateway
        self._ring = ring
        self._signer = signer
        self._ledger = ledger
        self._runner = runner
        self._results = results
        self._clock = clock
        self._skew_ms = skew_ms
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue(max_queued)
        self._running: set[asyncio.Task[None]] = set()
        self.counters = Counts(COMMANDS)

    def on_message(self, msg: Message) -> None:
        """The link's route for the command topic (runs on the loop): checked in order, one at a time."""
        try:
            self._inbox.put_nowait(msg.payload)
        except asyncio.QueueFull:  # the broker redelivers nothing here: say so, loudly
            self.counters.add(Counter.COMMANDS_RECEIVED)
            self.counters.add(Counter.COMMANDS_REFUSED)
            log.error("%d commands wait to be checked: one more was dropped unread", self._inbox.qsize())

    async def run(self) -> None:
        try:
            while True:
                await self.handle(await self._inbox.get())
        finally:
            for task in self._running:
                task.cancel()
            await asyncio.gather(*self._running, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until every command started has its final result (for a clean stop, and tests)."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def recover(self) -> int:
        """Report every command accepted before a restart without a final state as failed."""
        unfinished = await self._ledger.unfinished()
        for entry in unfinished:
            log.error("command %s (%s on %s): %s", entry.id, entry.action, entry.device, OUTCOME_UNKNOWN)
            await self._send(self._result(entry.id, ResultState.FAILED, OUTCOME_UNKNOWN))
            await self._ledger.finish(entry.id, ResultState.FAILED)
        return len(unfinished)

    async def handle(self, payload: bytes) -> None:
        """Check one command and, if it may run, start it. Returns once it is refused or started."""
        self.counters.add(Counter.COMMANDS_RECEIVED)
        try:
            cmd = self._ring.verify(payload)
        except (PayloadError, SignatureError) as exc:
            self.counters.add(Counter.COMMANDS_UNAUTHENTIC)
            log.warning("ignored a command that is not authentic (%s): %s", type(exc).__name__, exc)
            return
        try:
            check_command(
                cmd,
                gateway=self._gateway,
                now_ms=self._now(),
                skew_ms=self._skew_ms,
                max_ttl_ms=self._runner.max_ttl_ms(cmd.device, cmd.action),
            )
            full = self._results.refusal()
            if full is not None:
                raise Refusal(full)
            await self._ledger.admit(cmd)
        except Replayed as exc:
            self.counters.add(Counter.COMMANDS_REPLAYED)
            log.warning("ignored command %s: %s", cmd.id, exc)
            return
        except Refusal as exc:
            self.counters.add(Counter.COMMANDS_REFUSED)
            log.warning("refused command %s (%s on %s): %s", cmd.id, cmd.action, cmd.device, exc)
            await self._send(
                refusal_result(cmd, exc, gateway=self._gateway, ts_ms=self._now(), key_id=self._key)
            )
            return
        self.counters.add(Counter.COMMANDS_RUN)
        await self._send(self._result(cmd.id, ResultState.ACCEPTED))
        task = asyncio.create_task(self._execute(cmd), name=f"command-{cmd.id}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def run_local(self, cmd: Command) -> CommandResult:
        """A command the gateway issues itself (a lighting program's step, under the authority of the
        signed set it comes from): the path of a centre's command after its authentication gate — the
        outbox's room, the ledger (``accepted`` before the device is touched), the runner, the final
        result in the outbox — awaited to its final result, which is returned."""
        try:
            full = self._results.refusal()
            if full is not None:
                raise Refusal(full)
            await self._ledger.admit(cmd)
        except Refusal as exc:
            log.warning("refused local command %s (%s on %s): %s", cmd.id, cmd.action, cmd.device, exc)
            result = refusal_result(cmd, exc, gateway=self._gateway, ts_ms=self._now(), key_id=self._key)
            await self._send(result)
            return result
        await self._send(self._result(cmd.id, ResultState.ACCEPTED))
        return await self._finish(cmd)

    async def _execute(self, cmd: Command) -> None:
        await self._finish(cmd)

    async def _finish(self, cmd: Command) -> CommandResult:
        try:
            result = await self._runner.run(cmd)
        except Exception as exc:  # a bug in the runner: the command still gets its final state
            log.exception("command %s failed in the runner", cmd.id)
            result = self._result(cmd.id, ResultState.FAILED, f"agent error: {exc!r}")
        await self._send(result)
        await self._ledger.finish(cmd.id, result.state)
        return result

    def _result(self, cmd_id: uuid.UUID, state: ResultState, reason: str | None = None) -> CommandResult:
        return CommandResult(cmd_id, self._gateway, state, self._now(), self._key, reason=reason)

    async def _send(self, result: CommandResult) -> None:
        await self._results.put_result(self._signer.seal_result(result))

    @property
    def _key(self) -> str:
        return self._signer.key_id

    def _now(self) -> int:
        return self._clock.now_ms()
