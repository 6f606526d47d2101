"""What the fault scenarios share: their durations (:data:`CI` scaled down, :data:`SOAK` full), running
the stack, and settling after a fault (recovery timed, backlog drained, the ends compared)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from edge_agent.counters import DROPS, Counter
from harness.faults.stack import FaultStack, Outcome, assert_exactly_once, wait
from harness.stack import Proc


@dataclass(frozen=True)
class Durations:
    warmup_s: float = 3.0  # traffic before the fault
    outage_s: float = 10.0  # a broker, collector or network outage
    restarts: int = 5  # broker restarts in a row
    kills: int = 3  # kill -9s in a row
    between_s: float = 1.5  # between two restarts or kills
    stall_s: float = 8.0  # a store that stopped answering
    after_s: float = 2.0  # traffic after the fault, before the final comparison
    recovery_timeout_s: float = 30.0


CI = Durations()
SOAK = Durations(
    warmup_s=30,
    outage_s=600,
    restarts=20,
    kills=20,
    between_s=10,
    stall_s=300,
    after_s=30,
    recovery_timeout_s=120,
)


@contextlib.contextmanager
def running(stack: FaultStack) -> Iterator[FaultStack]:
    try:
        yield stack.start()
    finally:
        stack.stop()


def first_data(stack: FaultStack, d: Durations) -> None:
    wait(lambda: stack.stored_count() > 0, d.recovery_timeout_s, "the first readings in the store", stack)
    time.sleep(d.warmup_s)


def recovered(stack: FaultStack, cleared_ms: int, d: Durations) -> float:
    """Seconds from the fault's end until a reading stamped after it is in the store."""
    return wait(lambda: stack.stored_since(cleared_ms), d.recovery_timeout_s, "fresh readings stored", stack)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def drained_after(stack: FaultStack, cleared_ms: int, d: Durations) -> float:
    """Seconds from the fault's end until the agent's buffer holds nothing stamped before it (its
    backlog)."""

    def done() -> bool:
        st = stack.status()
        if st is None:
            return False
        oldest = st["buffer"]["oldest_age_s"]
        return oldest is None or st["now_ms"] - oldest * 1000 >= cleared_ms

    wait(done, max(d.recovery_timeout_s, d.outage_s * 2), "the backlog drained", stack)
    return (now_ms() - cleared_ms) / 1000


def settle(
    stack: FaultStack,
    d: Durations,
    scenario: str,
    *,
    backlog: bool = False,
    dropped: bool = False,
    check: bool = True,
) -> Outcome:
    """The fault is cleared now: time the recovery (and, with ``backlog``, the backlog's drain), let the
    traffic run on (with ``dropped``: until the final drop count reached the centre), then stop the
    agent, deliver what is left and compare; unless ``check`` is off, assert exactly-once."""
    cleared = now_ms()
    recovery = recovered(stack, cleared, d)
    drained = drained_after(stack, cleared, d) if backlog else None
    if dropped:
        wait(lambda: counted_at_centre(stack), 30, "the final drop count at the centre", stack)
    time.sleep(d.after_s)
    o = stack.finish(scenario, recovery_s=recovery, drained_s=drained)
    if check:
        assert_exactly_once(o, stack, dropped=dropped)
    return o


def counted_at_centre(stack: FaultStack) -> bool:
    """Whether the store has the agent's current count of dropped readings (its health points)."""
    st = stack.status()
    if st is None:
        return False
    total = sum(int(st["buffer"].get(c, 0)) for c in DROPS)
    return stack.agent_point(Counter.DROPPED) == total


def kill_during(
    proc: Proc, under_way: Callable[[], bool], what: str, stack: FaultStack, d: Durations
) -> None:
    """SIGKILL ``proc`` while ``what`` is under way. The process is stopped (SIGSTOP) first and looked
    at again, so that what was seen cannot end between the look and the kill; if it ended before the
    stop, the process goes on and the next occurrence is waited for."""
    assert proc.proc is not None
    pid = proc.proc.pid
    deadline = time.monotonic() + d.recovery_timeout_s
    while time.monotonic() < deadline:
        wait(under_way, d.recovery_timeout_s, what, stack)
        os.kill(pid, signal.SIGSTOP)
        if under_way():
            proc.kill()
            return
        os.kill(pid, signal.SIGCONT)
    raise AssertionError(f"{what}: not caught in {d.recovery_timeout_s} s\n{stack.logs()}")
