"""The driver interface: one driver object per physical bus (a TCP gateway, an RS-485 line, an OPC-UA
server). It owns that link: requests on it are serialised by the driver, never issued concurrently.

- ``read(device)`` reads every point of one device with as few requests as its plan allows;
- ``write(device, point, value)`` and ``call(device, action, args)`` are the command path (the
  interlocked commands of :mod:`edge_agent.commands.executor` use ``call`` for OPC-UA methods and the
  Modbus driver's ``write_registers`` for command mailboxes, and read with ``priority=COMMAND``);
- ``aclose()`` releases the link.

A failure is a typed :mod:`drivers.errors` exception (the whole device) or a :class:`PointValue` with an
``error`` (one point) — never a bare ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from wire.points import Value

__all__ = ["Driver", "PointValue", "ReadStats", "Value"]


@dataclass(frozen=True, slots=True)
class PointValue:
    point: str
    value: Value
    error: str | None = None  # set when this point could not be read or decoded: quality BAD
    ts_ms: int | None = None  # when the value was taken, if the device says (OPC-UA); None: the poll's time


@dataclass(frozen=True, slots=True)
class ReadStats:
    """What one ``read`` cost on the bus (for the poll-coalescing figures)."""

    requests: int
    registers: int


class Driver(Protocol):
    @property
    def name(self) -> str: ...

    def devices(self) -> Sequence[str]: ...

    async def read(self, device: str) -> Sequence[PointValue]: ...

    async def write(self, device: str, point: str, value: Value) -> None: ...

    async def call(self, device: str, action: str, args: Mapping[str, Value]) -> Value: ...

    async def aclose(self) -> None: ...
