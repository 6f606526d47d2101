"""One queue per physical bus: every request on a link (the polls of every device behind it and the
commands) waits here for its turn, and the line carries one request at a time.

Why here, in ``drivers/``, and not in ``edge_agent/poll``: the unit of scheduling is one request on the
wire, and requests exist only inside a driver (one ``read(device)`` is several requests, and a command
must be able to take the line between two of them). The silent gap runs from the end of the last
answer, which only the driver sees. And both ways onto a bus, the poller and the command path, go
through the driver, so a queue inside it is the one place nothing can get around. What stays in
``edge_agent/poll`` is *when* a device is polled: the offsets that spread a bus's devices over their
interval, and the back-off of a device that stopped answering.

The rules:

- one slot at a time; between two slots the line stays silent for ``gap_s`` (Modbus RTU: 3.5
  character times), counted from the end of the previous slot;
- the next slot goes to the most urgent waiter: ``COMMAND`` (writes, calls), then ``POLL``, then
  ``RETRY`` (a retry after a timeout waits behind every poll already queued, so a device that stopped
  answering costs the others its timeouts, never a queue of retries); first come, first served within
  a priority;
- who goes next is decided when the line becomes free (after the gap), so a command that arrives
  during a gap still goes first;
- a waiter that is cancelled leaves the queue; one cancelled just after it was handed the line passes
  the line on.

``stats()`` counts the slots granted (by priority), the queue depth (now and the most seen), the time
spent waiting and the time the line was held (silent gaps excluded) since the scheduler was built.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass


class Priority(enum.IntEnum):
    COMMAND = 0  # writes and calls: the next free slot, ahead of queued polls
    POLL = 1
    RETRY = 2  # another attempt after a timeout: behind every poll already waiting


@dataclass(frozen=True, slots=True)
class BusStats:
    requests: int  # slots granted
    by_priority: Mapping[Priority, int]
    queue_depth: int  # waiting now (the holder not included)
    queue_max: int  # the most ever waiting at once
    wait_total_s: float
    wait_max_s: float
    busy_s: float  # time a slot was held (request sent, answer or timeout awaited)
    elapsed_s: float  # since the scheduler was built

    @property
    def busy_fraction(self) -> float:
        return self.busy_s / self.elapsed_s if self.elapsed_s > 0 else 0.0


_Waiter = tuple[int, int, "asyncio.Future[None]"]


class BusScheduler:
    def __init__(self, name: str, gap_s: float = 0.0) -> None:
        if gap_s < 0:
            raise ValueError(f"{name}: the gap between frames cannot be negative ({gap_s})")
        self.name = name
        self.gap_s = gap_s
        self._waiting: list[_Waiter] = []  # a heap: (priority, arrival, future)
        self._arrival = itertools.count()
        self._held = False  # a slot is held, or the line is in its silent gap
        self._created = time.monotonic()
        self._requests = dict.fromkeys(Priority, 0)
        self._queue_max = 0
        self._wait_total = self._wait_max = self._busy = 0.0

    @asynccontextmanager
    async def slot(self, priority: Priority = Priority.POLL) -> AsyncIterator[None]:
        """Hold the line for one request (and its answer)."""
        queued = time.monotonic()
        await self._acquire(priority)
        start = time.monotonic()
        self._requests[priority] += 1
        self._wait_total += start - queued
        self._wait_max = max(self._wait_max, start - queued)
        try:
            yield
        finally:
            self._busy += time.monotonic() - start
            self._release()

    @property
    def queue_depth(self) -> int:
        return len(self._waiting)

    def stats(self) -> BusStats:
        return BusStats(
            requests=sum(self._requests.values()),
            by_priority=dict(self._requests),
            queue_depth=self.queue_depth,
            queue_max=self._queue_max,
            wait_total_s=self._wait_total,
            wait_max_s=self._wait_max,
            busy_s=self._busy,
            elapsed_s=time.monotonic() - self._created,
        )

    async def _acquire(self, priority: Priority) -> None:
        if not self._held and not self._waiting:
            self._held = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (int(priority), next(self._arrival), turn)
        heapq.heappush(self._waiting, entry)
        self._queue_max = max(self._queue_max, len(self._waiting))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._hand_over()  # the line was ours already: pass it on, nothing was sent
            elif entry in self._waiting:  # a hand-over may have dropped it since it was cancelled
                self._waiting.remove(entry)
                heapq.heapify(self._waiting)
            raise

    def _release(self) -> None:
        if self.gap_s > 0:
            asyncio.get_running_loop().call_later(self.gap_s, self._hand_over)
        else:
            self._hand_over()

    def _hand_over(self) -> None:
        """The line is free: give it to the most urgent waiter, or mark it idle."""
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)  # the line stays held: it passes straight to that waiter
                return
        self._held = False
