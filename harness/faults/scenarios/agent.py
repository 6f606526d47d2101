"""Agent faults: killed -9 repeatedly, the wall clock stepping back."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from pathlib import Path

from harness.faults.journal import read_journal
from harness.faults.scenarios.common import (
    CI,
    Durations,
    first_data,
    kill_during,
    now_ms,
    running,
    settle,
)
from harness.faults.stack import FaultStack, Outcome, assert_exactly_once, wait


def agent_killed_repeatedly(workdir: Path, d: Durations = CI) -> Outcome:
    """The agent is SIGKILLed ``kills`` times while it polls and publishes, and restarted each time.
    The promise: a kill costs at most the poll in progress — per device, the readings of one poll."""
    stack = FaultStack(workdir, poll_interval_s=0.2)
    with running(stack):
        first_data(stack, d)
        assert stack.agent is not None
        assert stack.agent.stop() == 0, stack.logs()  # a clean restart first: it costs nothing
        stack.agent.start()
        for _ in range(d.kills):
            time.sleep(d.between_s)
            assert stack.agent is not None
            agent = stack.agent.proc
            assert agent is not None
            kill_during(  # a poll handed to the buffer and not yet committed: the kill cuts it
                stack.agent,
                lambda: any(c.pid == agent.pid for c in read_journal(stack.journal).unfinished()),  # noqa: B023
                "a poll in progress",
                stack,
                d,
            )
            stack.agent.start()
        o = settle(stack, d, f"agent SIGKILLed while publishing, {d.kills}×")
        journal = read_journal(stack.journal)
        killed_runs = journal.runs()[1:-1]  # the first run stopped cleanly, so did the last
        assert len(killed_runs) == d.kills, journal.runs()
        cuts = 0
        for pid in killed_runs:
            cut = [c for c in journal.unfinished() if c.pid == pid]
            devices = [r[0] for c in cut for r in c.readings]
            polls = {(r[0], r[2]) for c in cut for r in c.readings}
            per_device = {dev: sum(1 for p in polls if p[0] == dev) for dev in set(devices)}
            assert all(n == 1 for n in per_device.values()), f"run {pid}: several polls cut: {per_device}"
            cuts += bool(cut)
        # Every kill came while a poll was in progress: the check above held of something each time.
        assert cuts == d.kills, f"only {cuts} of the {d.kills} kills cut a poll"
        return replace(o, notes=f"{len(killed_runs)} runs killed, each during a poll")


def clock_steps_back(workdir: Path, d: Durations = CI) -> Outcome:
    """The gateway's wall clock steps back by one hour mid-run: readings stamped an hour earlier than
    those before them are all stored, none merged with or mistaken for another."""
    stack = FaultStack(workdir, steppable_clock=True)
    with running(stack):
        first_data(stack, d)
        assert stack.agent is not None
        assert stack.agent.proc is not None
        stepped = now_ms()
        os.kill(stack.agent.proc.pid, signal.SIGUSR1)
        back = stepped - 3_600_000
        recovery = wait(
            lambda: stack.stored_since(back, back + 600_000),
            d.recovery_timeout_s,
            "readings an hour back",
            stack,
        )
        time.sleep(d.after_s + d.warmup_s)
        o = stack.finish("gateway clock steps back by 1 h", recovery_s=recovery)
        assert_exactly_once(o, stack)
        stamps = [k[2] for k in stack.store_rows()]
        before = sum(1 for t in stamps if t >= stepped - 60_000)
        after = sum(1 for t in stamps if t < stepped - 3_000_000)
        assert before > 0, f"no reading stored from before the step ({after} after it)"
        assert after > 0, f"no reading stored from after the step ({before} before it)"
        return replace(o, notes=f"{before} readings before the step, {after} stamped an hour back")
