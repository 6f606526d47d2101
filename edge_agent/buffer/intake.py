"""What a producer of readings (a poller, the health reporter) needs of the buffer: ``append``.

:class:`~edge_agent.buffer.store.Buffer` satisfies it; so does a test's recorder of readings, without
a cast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from wire.points import Reading


class Intake(Protocol):
    async def append(self, readings: Sequence[Reading]) -> None:
        """Return once ``readings`` are committed; raise
        :class:`~edge_agent.buffer.store.BufferFull` when there is no room for them (they are
        counted)."""
        ...
