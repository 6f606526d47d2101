"""The agent's long-running parts run supervised: each is a named task of an ``asyncio.TaskGroup``.

A part that raises, or returns while no stop is under way, ends its group: the group cancels the other
parts and raises, and the agent exits non-zero (systemd restarts it) — a stalled agent that looks alive
is the one outcome we never accept. The first failure is logged once, with its traceback; parts that fail
after it (a poller whose buffer's writer died) only at DEBUG.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class PartEnded(Exception):
    """A long-running part of the agent returned while the agent was not stopping."""


class Supervisor:
    def __init__(self, on_failure: Callable[[], None] = lambda: None) -> None:
        self.tasks: list[asyncio.Task[None]] = []
        self.stopping = False  # a stop is under way, or a part failed: parts may end now
        self._on_failure = on_failure  # called once, at the first failure (before the group cancels)

    def spawn(
        self, group: asyncio.TaskGroup, part: Coroutine[Any, Any, None], name: str
    ) -> asyncio.Task[None]:
        task = group.create_task(self._supervised(part, name), name=name)
        self.tasks.append(task)
        return task

    async def _supervised(self, part: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await part
        except Exception:
            if self.stopping:  # another part failed first (its failure is the one logged), or a stop
                log.debug("%s failed while the agent stops", name, exc_info=True)
            else:
                log.exception("%s failed; stopping the agent", name)
                self._failed()
            raise
        if not self.stopping:
            log.error("%s ended unexpectedly; stopping the agent", name)
            self._failed()
            raise PartEnded(f"{name} ended unexpectedly")

    def _failed(self) -> None:
        self.stopping = True
        self._on_failure()


async def cancel(tasks: list[asyncio.Task[None]], what: str, grace_s: float = 3.0) -> None:
    """Cancel and wait, but never forever: a library that swallows a cancellation (seen in a Modbus
    connect) must not turn a clean stop into one that systemd ends with SIGKILL."""
    for t in tasks:
        t.cancel()
    if not tasks:
        return
    _, stuck = await asyncio.wait(tasks, timeout=grace_s)
    if stuck:
        log.warning(
            "%d %s did not stop within %.0f s: %s",
            len(stuck),
            what,
            grace_s,
            ", ".join(t.get_name() for t in stuck),
        )


def first_failure(exc: BaseException) -> BaseException:
    """The first leaf of a (nested) exception group: the failure that stopped the agent."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
