"""``edge-agent`` with every commit recorded in a journal (:mod:`harness.faults.journal`).

    python -m harness.faults.record_agent JOURNAL [--steppable-clock] -- run --config agent.yaml

With ``--steppable-clock`` the agent's wall clock steps back by one hour on each SIGUSR1 (a gateway
whose clock is corrected backwards); its monotonic clock runs on untouched.

With ``--no-key-reserve`` the buffer reserves no batch keys ahead (``Keys.BLOCK = 0``, in this process
only): the negative control of the kill -9 test, which must then see a key used twice.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from edge_agent.buffer.keys import Keys
from edge_agent.buffer.store import Buffer
from edge_agent.clock import SystemClock
from wire.points import Reading

HOUR_MS = 3_600_000


class SteppableClock(SystemClock):
    """The system's clocks, with the wall clock offset by whole steps a test asks for."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def now_ms(self) -> int:
        return super().now_ms() + self.offset_ms

    def step_back(self, ms: int = HOUR_MS) -> None:
        self.offset_ms -= ms


def install(journal: Path) -> int:
    """Wrap ``Buffer.append`` so each call is journalled before and after; the journal's descriptor."""
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, b"\n")
    pid = os.getpid()
    numbers = itertools.count(1)
    original = Buffer.append

    async def append(self: Buffer, readings: Sequence[Reading]) -> None:
        if not readings:
            return
        call = f"{pid}.{next(numbers)}"
        rows = [[r.device, r.point, r.ts_ms, r.value, int(r.quality)] for r in readings]
        os.write(fd, f"B {call} {json.dumps(rows, separators=(',', ':'))}\n".encode())
        try:
            await original(self, readings)
        except asyncio.CancelledError:
            os.write(fd, f"X {call}\n".encode())
            raise
        except BaseException as exc:
            os.write(fd, f"F {call} {type(exc).__name__}\n".encode())
            raise
        os.write(fd, f"C {call}\n".encode())

    Buffer.append = append  # type: ignore[method-assign]  # the journal, in this process only
    return fd


def main(argv: list[str]) -> int:
    journal = Path(argv[0])
    rest = argv[1:]
    steppable = "--steppable-clock" in rest
    if "--no-key-reserve" in rest:
        Keys.BLOCK = 0  # the negative control, in this process only
    rest = [a for a in rest if a not in ("--steppable-clock", "--no-key-reserve")]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    fd = install(journal)
    code: int | str | None = 1
    try:
        code = _run(rest, steppable)
    except SystemExit as exc:
        code = exc.code
        raise
    finally:  # a run that ends here ended cleanly (a kill -9 never gets here)
        os.write(fd, f"E {os.getpid()} {code}\n".encode())
    return code


def _run(rest: list[str], steppable: bool) -> int:
    if rest[:1] != ["run"] or not steppable:
        sys.argv = ["edge-agent", *rest]
        from edge_agent.cli.entry import main as entry

        entry()
        return 0
    clock = SteppableClock()
    signal.signal(signal.SIGUSR1, lambda *_: clock.step_back())
    from edge_agent.cli.run import parse, start

    args = parse(rest[1:])
    return start(args.config, args.log_level, clock=clock)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
