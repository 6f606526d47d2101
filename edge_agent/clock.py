"""Injectable time: every schedule, expiry and timestamp in the agent asks a :class:`Clock`."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock UTC time in milliseconds since the epoch (may jump)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals and timeouts)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when told to; sleepers wake when their deadline is reached.

    Wall time and monotonic time are separate so that a test can step the wall clock back
    (a gateway's clock correction) while intervals keep running forward.
    """

    def __init__(self, wall_ms: int = 1_767_225_600_000, mono: float = 1000.0) -> None:
        self._wall_ms = wall_ms
        self._mono = mono
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now_ms(self) -> int:
        return self._wall_ms

    def monotonic(self) -> float:
        return self._mono

    def step_wall(self, delta_ms: int) -> None:
        self._wall_ms += delta_ms

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._mono + max(0.0, seconds), fut))
        try:
            await fut
        finally:
            self._sleepers = [(t, f) for t, f in self._sleepers if f is not fut]

    async def advance(self, seconds: float, step: float = 0.1) -> None:
        """Move both clocks forward in steps, letting woken tasks run after each step."""
        remaining = seconds
        while remaining > 1e-9:
            dt = min(step, remaining)
            remaining -= dt
            self._mono += dt
            self._wall_ms += round(dt * 1000)
            for deadline, fut in list(self._sleepers):
                if deadline <= self._mono + 1e-9 and not fut.done():
                    fut.set_result(None)
            for _ in range(5):
                await asyncio.sleep(0)
