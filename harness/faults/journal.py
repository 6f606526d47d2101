"""What the agent committed, recorded by the test — not taken from the agent's own counters.

The fault suite starts the agent through :mod:`harness.faults.record_agent`, which wraps
``Buffer.append`` (the call whose return means "committed"). Per call it appends one line to the
journal before the call and one after it, each with a single ``write`` on an ``O_APPEND`` descriptor:

    B <call> <JSON [[device, point, ts_ms, value, quality], ...]>    handed to the buffer
    C <call>                                                          append returned: committed
    F <call> <exception type>                                         append raised: not committed
    X <call>                                                          cancelled while waiting
    E <pid> <exit code>                                               the run ended (not killed)

``<call>`` is ``<pid>.<n>``. A kill -9 leaves a ``B`` without its end: the poll in progress, which
the promise allows to be lost (it may also have been committed just before the kill). Every run
starts with a newline, so a line cut short by a kill never runs into the next run's first line.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

Key = tuple[str, str, int, object, int]  # device, point, ts_ms, value, quality


def key(device: str, point: str, ts_ms: int, value: object, quality: int) -> Key:
    # A float that happens to be integral stays a float (JSON keeps 1.0 apart from 1); bool stays bool.
    return (device, point, int(ts_ms), value, int(quality))


@dataclass
class Call:
    pid: int
    readings: list[Key]
    end: str | None = None  # "C", "F", "X" or None (the process died first)
    error: str | None = None  # with "F": the exception's type (BufferFull: refused, and counted)


@dataclass
class Journal:
    calls: list[Call] = field(default_factory=list)
    ended: set[int] = field(default_factory=set)  # runs that ended by themselves (SIGTERM), not killed

    @property
    def in_progress_at_clean_stop(self) -> collections.Counter[Key]:
        """Readings handed to the buffer by a call that never returned, in a run that stopped cleanly:
        a clean stop must commit them."""
        return _count(
            r for c in self.calls if c.end in (None, "X") and c.pid in self.ended for r in c.readings
        )

    @property
    def committed(self) -> collections.Counter[Key]:
        """Readings whose append returned: committed for certain."""
        return _count(r for c in self.calls if c.end == "C" for r in c.readings)

    @property
    def in_progress(self) -> collections.Counter[Key]:
        """Readings handed to the buffer by a call that never returned (kill -9) or was cancelled:
        committed or not, the promise allows either."""
        return _count(r for c in self.calls if c.end in (None, "X") for r in c.readings)

    @property
    def refused(self) -> collections.Counter[Key]:
        """Readings the buffer refused (``BufferFull``: no room even after dropping) and counted."""
        return _count(r for c in self.calls if c.end == "F" and c.error == "BufferFull" for r in c.readings)

    def unfinished(self) -> list[Call]:
        return [c for c in self.calls if c.end in (None, "X")]

    def runs(self) -> list[int]:
        return list(dict.fromkeys(c.pid for c in self.calls))


def _count(items: Iterable[Key]) -> collections.Counter[Key]:
    return collections.Counter(items)


def read_journal(path: Path) -> Journal:
    calls: dict[str, Call] = {}
    ended: set[int] = set()
    if not path.exists():
        return Journal()
    with path.open("rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            kind, _, rest = line.partition(" ")
            if kind == "B":
                call, _, body = rest.partition(" ")
                try:
                    rows = json.loads(body)
                except json.JSONDecodeError:
                    continue  # cut short by a kill: the append never started
                calls[call] = Call(int(call.split(".")[0]), [key(*row) for row in rows])
            elif kind == "E":
                ended.add(int(rest.split(" ")[0]))
            elif kind in ("C", "F", "X"):
                call, _, error = rest.partition(" ")
                if call in calls:
                    calls[call].end = kind
                    calls[call].error = error or None
    return Journal(list(calls.values()), ended)
