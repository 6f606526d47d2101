"""The agent killed -9 while it sends fresh readings before their group commit (the live path).

Fresh batches leave under keys from a block the buffer reserved on disk, before the commit that writes
them (most are confirmed first and never written at all). A restarted agent must start past every key
it may have sent: with the reservation off (``key_reserve=False``, the negative control) it starts at
the last key it wrote, and the collector finds a key it holds with other content — a conflict,
quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from harness.faults.journal import read_journal
from harness.faults.scenarios.common import CI, Durations, first_data, kill_during, running, settle
from harness.faults.stack import FaultStack, Outcome


@dataclass(frozen=True)
class LiveKills:
    outcome: Outcome
    conflicts: int  # payloads the store quarantined as a key used with other content
    cut_but_stored: int  # readings of a poll cut by a kill that reached the store anyway: sent first


def agent_killed_sending_live(workdir: Path, d: Durations = CI, *, key_reserve: bool = True) -> LiveKills:
    """Kill the agent ``d.kills`` times while a poll is in progress — handed to the buffer, sent or
    about to be, not committed (``commit_interval_s`` 0.5 s, polls every 0.2 s) — and restart it."""
    stack = FaultStack(workdir, poll_interval_s=0.2, key_reserve=key_reserve)
    with running(stack):
        first_data(stack, d)
        assert stack.agent is not None
        for _ in range(d.kills):
            agent = stack.agent.proc
            assert agent is not None
            kill_during(
                stack.agent,
                lambda: any(c.pid == agent.pid for c in read_journal(stack.journal).unfinished()),  # noqa: B023
                "a poll in progress",
                stack,
                d,
            )
            stack.agent.start()
            first_data(stack, replace(d, warmup_s=d.between_s))
        o = settle(stack, d, f"agent SIGKILLed while sending live, {d.kills}×", check=False)
        journal = read_journal(stack.journal)
        stored = stack.store_rows()
        cut = [r for c in journal.unfinished() for r in c.readings]
        cut_stored = sum(1 for r in cut if stored[r] > 0)
        conflicts = stack.conflicts()
    notes = f"{d.kills} kills; {cut_stored} readings of cut polls stored; {conflicts} key conflicts"
    return LiveKills(replace(o, notes=notes), conflicts, cut_stored)
