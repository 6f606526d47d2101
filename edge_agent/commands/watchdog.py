"""Feeding the traffic controllers' central watchdog, only while the centre is alive.

A traffic controller under central control keeps the centre's plan while its central watchdog is fed;
when the watchdog starves it falls back to its own programme (devices.md §5.2, RSMP's "central
connection" alarm). The agent must not keep feeding it on the centre's behalf when the centre is gone: it
feeds each controller every ``period_s`` only while it has **heard from the centre** within
``heard_within_s`` (60 s): a confirmation of its telemetry, or a signed heartbeat. When the centre goes
quiet the feeding stops, and the controllers fall back by themselves after their own watchdog time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from drivers.base import Value
from drivers.errors import DriverError
from edge_agent.clock import Clock

log = logging.getLogger(__name__)

Call = Callable[[str, str, Mapping[str, Value]], Awaitable[Value]]  # a driver's call(device, action, args)


class CentreWatchdogFeeder:
    def __init__(
        self,
        *,
        call: Call,
        devices: Sequence[str],
        last_heard: Callable[[], float | None],
        clock: Clock,
        action: str = "Heartbeat",
        period_s: float = 10.0,
        heard_within_s: float = 60.0,
    ) -> None:
        """``last_heard``: when the centre was last heard from, on ``clock``'s monotonic scale (None:
        never)."""
        if period_s <= 0 or heard_within_s <= 0:
            raise ValueError(f"period_s and heard_within_s must be > 0, got {period_s} and {heard_within_s}")
        self._call = call
        self._devices = tuple(devices)
        self._last_heard = last_heard
        self._clock = clock
        self._action = action
        self._period_s = period_s
        self._heard_within_s = heard_within_s
        self._feeding: bool | None = None  # for logging the changes only
        self.fed = 0  # heartbeats the controllers took

    def centre_alive(self) -> bool:
        heard = self._last_heard()
        return heard is not None and self._clock.monotonic() - heard <= self._heard_within_s

    async def run(self) -> None:
        while True:
            await self.feed_once()
            await self._clock.sleep(self._period_s)

    async def feed_once(self) -> None:
        alive = self.centre_alive()
        if alive != self._feeding:
            if alive:
                log.info(
                    "the centre is heard from: feeding the watchdog of %d controllers", len(self._devices)
                )
            else:
                log.warning(
                    "nothing heard from the centre for over %.0f s: the controllers' watchdog is not fed, "
                    "they fall back to their own programme",
                    self._heard_within_s,
                )
            self._feeding = alive
        if not alive:
            return
        for device in self._devices:
            try:
                await self._call(device, self._action, {})
            except DriverError as exc:  # a controller that does not answer: the others are still fed
                log.warning("could not feed the watchdog of %s: %s", device, exc)
            else:
                self.fed += 1
