"""The outbox's SQLite file (aiosqlite, WAL, ``synchronous=FULL``): results and events wait here.

``put`` commits before it returns and gives the message its key ``(gateway, epoch, seq)``: ``epoch`` is
drawn when the file is created, ``seq`` is taken from ``next_seq`` in the same transaction, so a key is
never used twice, even across a crash. A message leaves only when the collector confirms it
(:meth:`Outbox.ack`) or quarantines it (:meth:`Outbox.reject`: kept in ``dead_letter``, counted).

**Never dropped.** The bound is ``outbox.max_messages``. When as many messages wait, the outbox refuses
*new work*, never a result: :meth:`Outbox.refusal` gives the command receiver (``Results`` in
``edge_agent/commands/receiver.py``) the reason to refuse a command before it starts — its signed
``refused`` result carries the reason to the centre — and a new event is refused with
:class:`OutboxFull`; both are counted as ``outbox_refused_total``. Results (:meth:`Outbox.put_result`:
the ``accepted``, final or ``refused`` result of a command) are always stored, past the bound if need
be, so that work already started never loses its result. Only a full disk refuses a result
(:class:`OutboxFull`: nothing half-written).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sqlite3
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from edge_agent.buffer.database import no_space, scalar
from edge_agent.clock import Clock
from edge_agent.counters import OUTBOX, Counter
from wire.outbox import OUTBOX_KINDS, OutboxFrame, OutboxKey, encode_frame
from wire.topics import TopicKind

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, topic_kind TEXT NOT NULL,
    created_ms INTEGER NOT NULL, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letter (seq INTEGER PRIMARY KEY, topic_kind TEXT NOT NULL,
    at_ms INTEGER NOT NULL, reason TEXT NOT NULL, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class OutboxFull(Exception):
    """The outbox cannot take more: ``reason`` says why, in words for the centre."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    key: OutboxKey
    topic_kind: TopicKind
    payload: bytes  # the encoded frame (wire.outbox), byte for byte the same on every re-send


@dataclass(frozen=True, slots=True)
class OutboxStats:
    epoch: str
    depth: int  # messages waiting for the collector's confirmation
    bound: int  # outbox.max_messages
    dead_letters: int
    counters: dict[Counter, int]
    refusal: str | None  # why new work is refused now, or None


class Outbox:
    """Open with :meth:`open`; one connection, one lock; every method that touches the file awaits."""

    def __init__(
        self, db: aiosqlite.Connection, *, path: Path, gateway: str, epoch: str, clock: Clock, bound: int
    ) -> None:
        self.path = path
        self.gateway = gateway
        self.epoch = epoch
        self.bound = bound
        self._db = db
        self._clock = clock
        self._lock = asyncio.Lock()
        self._depth = 0
        self._uncounted = 0  # refusals of new work not yet added to outbox_refused_total in the file
        self._counting = 0  # of those, the ones the open transaction adds
        self._refusing = False  # a refusal episode is on: logged at WARNING once, at DEBUG after
        self.listeners: list[asyncio.Event] = []  # set after every put (the sender waits on one)

    @classmethod
    async def open(cls, path: Path, *, gateway: str, clock: Clock, max_messages: int) -> Outbox:
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=FULL")  # a put that returned survives a power cut
            await db.executescript(SCHEMA)
            epoch = await scalar(db, "SELECT value FROM meta WHERE key = 'epoch'")
            if epoch is None:
                epoch = secrets.token_hex(8)
                await db.execute("INSERT INTO meta VALUES ('epoch', ?), ('next_seq', '1')", (epoch,))
                log.info("new outbox %s, epoch %s", path, epoch)
            await db.executemany("INSERT OR IGNORE INTO counters VALUES (?, 0)", [(str(c),) for c in OUTBOX])
            depth = int(await scalar(db, "SELECT COUNT(*) FROM messages"))
        except sqlite3.Error as exc:
            await db.close()
            raise OSError(f"outbox {path}: cannot open: {exc}") from exc
        outbox = cls(db, path=path, gateway=gateway, epoch=str(epoch), clock=clock, bound=max_messages)
        outbox._depth = depth
        if depth >= max_messages:
            log.error("outbox %s opened full: %s", path, outbox.full_reason())
        return outbox

    async def close(self) -> None:
        # refusals not yet in the file: a clean stop keeps their count
        if self._uncounted and not await self._write_refusals():
            log.warning("outbox %s closed with %d refusals not counted (no room)", self.path, self._uncounted)
        async with self._lock:
            await self._db.close()

    # ---- room ------------------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        """Messages waiting for the collector's confirmation."""
        return self._depth

    @property
    def room(self) -> int:
        """How many more messages the outbox takes before it refuses new work."""
        return max(0, self.bound - self._depth)

    def full_reason(self) -> str | None:
        """Why new work would be refused now, in words for the centre; None while there is room.
        Only looks (the status and the health report): :meth:`refusal` is the question work asks."""
        if self.room > 0:
            return None
        return f"outbox full: {self._depth} results and events wait for the collector (bound {self.bound})"

    def refusal(self) -> str | None:
        """Ask before new work (a command) starts: why it must be refused, or None to go ahead. A refusal
        is counted (``outbox_refused_total``) and logged (WARNING once per episode)."""
        reason = self.full_reason()
        if reason is not None:
            self._uncounted += 1
            self._note_refusal(reason)
        return reason

    # ---- put, pending, ack -----------------------------------------------------------------------
    async def put_result(self, payload: bytes) -> None:
        """Store a signed result envelope (``.../cmd/result``): never refused for the bound."""
        await self.put(TopicKind.COMMAND_RESULT, payload)

    async def put(self, topic_kind: TopicKind, body: bytes) -> OutboxKey:
        """Store ``body`` (a signed result envelope, or an encoded event) to go out on ``topic_kind``;
        returns its key once committed. An event is new work: refused with :class:`OutboxFull` (counted,
        nothing stored) when the bound is reached; a result is stored all the same."""
        if topic_kind not in OUTBOX_KINDS:
            raise ValueError(f"outbox {self.path}: {topic_kind.value!r} is not an outbox topic kind")
        if topic_kind is not TopicKind.COMMAND_RESULT and (reason := self.full_reason()) is not None:
            await self._refused(reason)
        try:
            async with self._transaction() as db:
                seq = int(await scalar(db, "SELECT value FROM meta WHERE key = 'next_seq'"))
                key = OutboxKey(self.gateway, self.epoch, seq)
                payload = encode_frame(OutboxFrame(key, body))
                await db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (str(seq + 1),))
                await db.execute(
                    "INSERT INTO messages VALUES (?, ?, ?, ?)",
                    (seq, topic_kind.value, self._clock.now_ms(), payload),
                )
                await _count(db, Counter.OUTBOX_PUT, 1)
                await self._count_refusals(db)
        except sqlite3.OperationalError as exc:
            if not no_space(exc):
                raise
            await self._refused(f"outbox full: no room on the disk of {self.path}")
        self._depth += 1
        for event in self.listeners:
            event.set()
        return key

    async def pending(self, limit: int | None = None) -> list[OutboxMessage]:
        """Messages not yet confirmed, oldest first."""
        async with self._lock:
            rows = await self._db.execute_fetchall(
                "SELECT seq, topic_kind, payload FROM messages ORDER BY seq LIMIT ?",
                (-1 if limit is None else limit,),
            )
        return [
            OutboxMessage(OutboxKey(self.gateway, self.epoch, seq), TopicKind(kind), payload)
            for seq, kind, payload in rows
        ]

    async def ack(self, seqs: Sequence[int]) -> int:
        """The collector stored these: delete them. Returns how many left (a seq confirmed twice, 0)."""
        return await self._finish(seqs, None)

    async def reject(self, seqs: Sequence[int], reason: str) -> int:
        """The collector quarantined these: keep them in ``dead_letter``, counted; stop sending them."""
        n = await self._finish(seqs, reason)
        if n:
            log.error("collector rejected outbox messages %s: %s (kept in dead_letter)", list(seqs), reason)
        return n

    async def stats(self) -> OutboxStats:
        async with self._lock:
            rows = await self._db.execute_fetchall("SELECT name, value FROM counters")
            dead = int(await scalar(self._db, "SELECT COUNT(*) FROM dead_letter"))
        stored = {str(n): int(v) for n, v in rows}
        counters = {c: stored.get(c, 0) for c in OUTBOX}
        counters[Counter.OUTBOX_REFUSED] += self._uncounted
        return OutboxStats(self.epoch, self._depth, self.bound, dead, counters, self.full_reason())

    # ---- internals -------------------------------------------------------------------------------
    async def _finish(self, seqs: Sequence[int], reason: str | None) -> int:
        if not seqs:
            return 0
        marks = ", ".join("?" * len(seqs))
        async with self._transaction() as db:
            if reason is not None:
                await db.execute(
                    f"INSERT OR IGNORE INTO dead_letter SELECT seq, topic_kind, ?, ?, payload FROM messages "
                    f"WHERE seq IN ({marks})",
                    (self._clock.now_ms(), reason, *seqs),
                )
            async with db.execute(f"DELETE FROM messages WHERE seq IN ({marks})", tuple(seqs)) as cur:
                n = max(0, cur.rowcount)
            await _count(db, Counter.OUTBOX_CONFIRMED if reason is None else Counter.OUTBOX_REJECTED, n)
            await self._count_refusals(db)
        self._depth -= n
        if n and self._refusing and self.full_reason() is None:
            log.info(
                "outbox %s accepts new work again (%d waiting, bound %d)", self.path, self._depth, self.bound
            )
            self._refusing = False
        return n

    async def _refused(self, reason: str) -> None:
        """Count a refusal (kept in memory until a commit takes it when the disk is full) and raise it."""
        self._uncounted += 1
        self._note_refusal(reason)
        await self._write_refusals()
        raise OutboxFull(reason)

    async def _write_refusals(self) -> bool:
        """Write the refusals counted in memory; False when the disk has no room (they wait in memory)."""
        try:
            async with self._transaction() as db:
                await self._count_refusals(db)
        except sqlite3.OperationalError as exc:
            if not no_space(exc):
                raise
            return False
        return True

    def _note_refusal(self, reason: str) -> None:
        (log.debug if self._refusing else log.warning)("outbox %s refused new work: %s", self.path, reason)
        self._refusing = True

    async def _count_refusals(self, db: aiosqlite.Connection) -> None:
        """Add the refusals counted in memory to the file's counter, in the caller's transaction; they
        leave ``_uncounted`` only once it committed (a rolled-back one leaves them for the next)."""
        if self._uncounted:
            await _count(db, Counter.OUTBOX_REFUSED, self._uncounted)
            self._counting = self._uncounted

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                await self._db.execute("COMMIT")
                self._uncounted -= self._counting
            except BaseException:
                if self._db.in_transaction:
                    await self._db.execute("ROLLBACK")
                raise
            finally:
                self._counting = 0


async def _count(db: aiosqlite.Connection, name: Counter, n: int) -> None:
    if n:
        await db.execute("UPDATE counters SET value = value + ? WHERE name = ?", (n, str(name)))
