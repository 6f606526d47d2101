"""The read plan of one device: which requests read all its points, computed once from the config.

Points of one table, sorted by address, are merged into one request while the request stays within
the bus limit (``max_registers`` words; 2000 bits for coils and discrete inputs, the Modbus maximum)
and the hole between one point and the next is at most ``max_gap`` addresses. Reading a few unused
registers costs far less than another round trip on the bus (Telegraf ``plugins/inputs/modbus``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from drivers.modbus.config import ModbusPoint, Table

MAX_REGISTERS = 125  # FC03/FC04: registers per request
MAX_BITS = 2000  # FC01/FC02: bits per request
_BIT_TABLES = (Table.COIL, Table.DISCRETE)


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One read on the bus: ``count`` registers (or bits) of ``table`` from ``address``."""

    table: Table
    address: int
    count: int
    points: tuple[ModbusPoint, ...]  # in address order

    @property
    def end(self) -> int:
        return self.address + self.count

    def describe(self) -> str:
        """``holding 7005+11``: how logs and errors name this request."""
        return f"{self.table.value} {self.address}+{self.count}"


def plan_reads(
    points: Iterable[ModbusPoint], max_registers: int = MAX_REGISTERS, max_gap: int = 16
) -> tuple[ReadRequest, ...]:
    """Requests that read every point exactly once, tables in declaration order, addresses ascending."""
    if not 1 <= max_registers <= MAX_REGISTERS:
        raise ValueError(f"max_registers must be 1..{MAX_REGISTERS}, got {max_registers}")
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0, got {max_gap}")
    by_table: dict[Table, list[ModbusPoint]] = {}
    for p in points:
        by_table.setdefault(p.table, []).append(p)
    requests: list[ReadRequest] = []
    for table in Table:
        limit = MAX_BITS if table in _BIT_TABLES else max_registers
        requests.extend(_merge(table, by_table.get(table, []), limit, max_gap))
    return tuple(requests)


def _merge(table: Table, points: list[ModbusPoint], limit: int, max_gap: int) -> list[ReadRequest]:
    out: list[ReadRequest] = []
    group: list[ModbusPoint] = []
    start = end = 0
    for p in sorted(points, key=lambda q: (q.address, q.end, q.name)):
        if p.words > limit:
            raise ValueError(f"{p.name}: {p.words} registers do not fit a request of at most {limit}")
        new_end = max(end, p.end)
        if group and p.address - end <= max_gap and new_end - start <= limit:
            group.append(p)
            end = new_end
            continue
        if group:
            out.append(ReadRequest(table, start, end - start, tuple(group)))
        group, start, end = [p], p.address, p.end
    if group:
        out.append(ReadRequest(table, start, end - start, tuple(group)))
    return out
