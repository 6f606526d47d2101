"""Bounds: the buffer at its cap under both policies, a full card."""

from __future__ import annotations

import subprocess
import time
from dataclasses import replace
from pathlib import Path

from edge_agent.counters import DROPS, Counter
from harness.faults.journal import Key, read_journal
from harness.faults.scenarios.common import (
    CI,
    Durations,
    first_data,
    running,
    settle,
)
from harness.faults.smalldisk import SmallDisk
from harness.faults.stack import PY, FaultStack, Outcome, wait


def buffer_full(workdir: Path, d: Durations = CI, *, when_full: str = "drop_oldest") -> Outcome:
    """The broker is away long enough for the buffer to pass its cap: the ``when_full`` policy drops
    old readings; exactly the counted ones are missing, and the count reaches the centre."""
    stack = FaultStack(
        workdir,
        luminaires=20,
        poll_interval_s=0.2,
        health_interval_s=1,
        buffer_settings=f"max_bytes: 262144, when_full: {when_full}, thin_keep: 2",  # the smallest cap
    )
    with running(stack):
        assert stack.broker is not None
        first_data(stack, d)
        stack.broker.stop()
        counter = Counter.DROPPED_THINNED if when_full == "thin" else Counter.DROPPED_BUFFER_FULL
        wait(lambda: stack.buffer_counter(counter) > 0, 120, f"the buffer at its cap ({counter})", stack)
        time.sleep(d.between_s)
        stack.broker.start()
        o = settle(stack, d, f"buffer full, when_full: {when_full}", backlog=True, dropped=True)
        assert o.dropped_counted > 0
        if when_full != "thin":
            return o
        # Thinning removes plain measurements only; states, alarms, booleans, `online` and bad
        # readings go only when nothing is left to thin and the oldest data must go (counted apart):
        # never sent (buffer_full), or a unit that may have been sent as the link went down, whole
        # (unconfirmed: thinning never touches what may be in the store).
        thinned = int(stack.agent_point(Counter.DROPPED_THINNED) or 0)
        dropped_oldest = int(stack.agent_point(Counter.DROPPED_BUFFER_FULL) or 0)
        dropped_oldest += int(stack.agent_point(Counter.DROPPED_UNCONFIRMED) or 0)
        plain, other = thinned_only_measurements(stack)
        assert thinned > 0, stack.logs()
        assert other <= dropped_oldest, f"{other} states or alarms missing, {dropped_oldest} dropped oldest"
        return replace(
            o,
            notes=f"thinned {thinned}, dropped oldest {dropped_oldest}; missing {plain} plain, {other} other",
        )


def _plain_measurement(r: Key, previous: object) -> bool:
    """What ``when_full: thin`` may remove: a good, numeric, non-boolean reading of a point other than
    ``online`` — a float, or an integer equal to the one before it (not a state or alarm change)."""
    _, point, _, value, quality = r
    if quality != 0 or point == "online" or isinstance(value, bool):
        return False
    return isinstance(value, float) or (isinstance(value, int) and value == previous)


def thinned_only_measurements(stack: FaultStack) -> tuple[int, int]:
    """Of the committed readings missing from the store: (plain measurements, anything else)."""
    journal = read_journal(stack.journal)
    missing = journal.committed - stack.store_rows()
    previous: dict[tuple[str, str], object] = {}
    plain = other = 0
    for call in journal.calls:
        if call.end != "C":
            continue
        for r in call.readings:
            if missing[r] > 0:
                missing[r] -= 1
                if _plain_measurement(r, previous.get((r[0], r[1]))):
                    plain += 1
                else:
                    other += 1
            previous[(r[0], r[1])] = r[3]
    return plain, other


def disk_full(workdir: Path, d: Durations = CI) -> Outcome:
    """The card holding the buffer is smaller than ``max_bytes``, and while the broker is away another
    file takes every byte left on it. Polling goes on, the condition is reported to the centre, every
    reading given up is counted (dropped to make room, or refused), and the file stays sound."""
    with SmallDisk(workdir / "card", 2 << 20) as disk:
        stack = FaultStack(
            workdir,
            disk=disk,
            luminaires=20,
            poll_interval_s=0.2,
            health_interval_s=1,
            buffer_settings="max_bytes: 67108864",  # 64 MiB configured, on a 2 MiB card
        )
        with running(stack):
            assert stack.broker is not None
            first_data(stack, d)
            stack.broker.stop()
            time.sleep(d.between_s)
            ballast = disk.mountpoint / "ballast"  # e.g. a log that grew: the card is full
            subprocess.run(
                disk.wrap(["sh", "-c", f"dd if=/dev/zero of={ballast} bs=4k 2>/dev/null; true"]), check=True
            )
            wait(lambda: _dropped(stack) > 0, 120, "the buffer to give readings up on the full card", stack)
            calls = len(read_journal(stack.journal).calls)
            time.sleep(2 * d.between_s)
            assert stack.agent is not None
            assert stack.agent.running, stack.logs()
            polled = len(read_journal(stack.journal).calls) - calls
            assert polled >= 20, f"polling stalled on the full card: {polled} appends in {2 * d.between_s} s"
            st = stack.status()
            assert st is not None
            assert st["buffer"]["disk_full"], st["buffer"]
            subprocess.run(disk.wrap(["rm", "-f", str(ballast)]), check=True)
            stack.broker.start()
            o = settle(
                stack,
                d,
                "the buffer's card full (2 MiB, another file takes the rest)",
                backlog=True,
                dropped=True,
            )
            assert o.dropped_counted > 0
            assert stack.agent_point("buffer_disk_full") == 1.0, "the centre never heard of the full card"
            check = (
                "import sqlite3, sys; "
                "print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])"
            )
            integrity = subprocess.run(
                disk.wrap([PY, "-c", check, str(stack.buffer_path)]),
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            assert integrity == "ok", integrity
            return replace(
                o, notes=f"polling went on: {polled} appends in {2 * d.between_s:.0f} s on a full card"
            )


def _dropped(stack: FaultStack) -> int:
    st = stack.status()
    return sum(int(st["buffer"].get(c, 0)) for c in DROPS) if st else 0
