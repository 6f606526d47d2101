"""Which group each new chunk joins, and what the buffer's parts share about groups (:class:`Depth`).

While the uplink is connected (``online``), every chunk is a unit of its own: it is closed at once and
sent as written, on the live topic. While it is not, chunks join the open backlog group — its key is its
first chunk's — until the group holds ``group_readings`` (1,000 by default): then it closes, and the next
chunk opens another. The first commit after the link came back closes the open group before it writes
anything else, so no chunk joins a group once it may have left. ``meta.open_group`` holds the open
group (0: none), written in the commit that changes it: after a crash the group goes on where it was.

A backlog therefore travels in batches of at least ``group_readings`` (all but the last group of an
outage), built with no copy: a group is its chunks, merged when it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge_agent.buffer.keys import Keys


@dataclass(slots=True)
class Depth:
    """Shared by the buffer's parts; changed only after the transaction that changes it committed.

    ``unsealed``: readings in the open group (committed, not sendable yet); ``open_group``: its key (0:
    none); ``first_seq``: the first key of this run — a unit below it may have been sent by an earlier
    run; ``handed``: units handed to the uplink by this run (their readings), so possibly sent;
    ``confirmed``: units the collector confirmed, deleted by the next commit; ``online``: the uplink is
    connected (set by the publisher)."""

    unsealed: int = 0
    open_group: int = 0
    first_seq: int = 0
    handed: dict[int, int] = field(default_factory=dict)
    confirmed: set[int] = field(default_factory=set)
    online: bool = False

    def maybe_sent(self, grp: int) -> bool:
        """Whether this unit may be in the store already: then it goes whole or not at all. The open
        group never left (a group leaves only once closed), even if an earlier run opened it."""
        if grp == self.open_group:
            return False
        return grp < self.first_seq or grp in self.handed or grp in self.confirmed


@dataclass(slots=True)
class Plan:
    """What one commit does to the groups: the keys of its chunks, and the state it leaves."""

    chunks: list[tuple[int, int]]  # (seq, grp) of each new chunk, in order
    closed: list[int]  # groups closed by this commit (a connected commit's chunks included)
    open_group: int
    open_readings: int
    online: bool

    @property
    def live(self) -> list[int]:
        """Units of a connected commit (each chunk its own): they go on the live topic."""
        return [seq for seq, _ in self.chunks] if self.online else []


def plan(sizes: list[int], *, online: bool, depth: Depth, keys: Keys, group_readings: int) -> Plan:
    """Keys and groups for chunks of ``sizes`` readings; the caller writes them, then :func:`apply`."""
    group, held = depth.open_group, depth.unsealed
    closed: list[int] = []
    chunks: list[tuple[int, int]] = []
    if online and group:
        closed.append(group)
        group, held = 0, 0
    for n in sizes:
        seq = keys.take()
        if online:
            chunks.append((seq, seq))
            closed.append(seq)
            continue
        if not group:
            group, held = seq, 0
        chunks.append((seq, group))
        held += n
        if held >= group_readings:
            closed.append(group)
            group, held = 0, 0
    return Plan(chunks, closed, group, held, online)


def apply(depth: Depth, done: Plan) -> None:
    depth.open_group, depth.unsealed = done.open_group, done.open_readings
