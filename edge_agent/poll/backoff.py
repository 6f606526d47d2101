"""How long pollers leave a device alone once it stopped answering.

A try of a dead device holds its bus for the whole timeout (nothing else may go on the wire while an
answer could still come), delaying every device queued behind it. So after each failure in a row the
wait before the next try doubles, from ``first_s`` up to ``max_s`` (:class:`PollBackoff`): a dead unit
costs one timeout per wait, not one per poll. The first wait is never shorter than what keeps a dead
unit's share of the line at :data:`MAX_LINE_SHARE`: with a 0.5 s timeout, 10 s. The tries land on the
pollers' own slots, and the first answer ends the back-off. A driver that backs off on its own (an
OPC-UA session and its ``reconnect`` policy) says when it will try again (``retry_in_s``): the next poll
goes then, so values resume within the driver's reconnect time, not after the poll back-off's wait.

What backs off is the thing that stopped answering (:class:`Reachability`): the pollers of every
device behind one Modbus unit id (the luminaires of one DALI gateway) share one, so a dead gateway
is tried by one of them per wait, not by each of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_LINE_SHARE = 0.05  # of the line's time that one dead device may take with its timeouts


@dataclass(frozen=True, slots=True)
class PollBackoff:
    first_s: float
    max_s: float

    def __post_init__(self) -> None:
        if not 0 < self.first_s <= self.max_s:
            raise ValueError(f"back-off needs 0 < first_s <= max_s, got {self.first_s} and {self.max_s}")

    @classmethod
    def for_device(cls, interval_s: float, timeout_s: float, max_s: float) -> PollBackoff:
        """From one poll interval, or the line-share floor, doubling up to ``max_s`` (or the floor)."""
        first = max(interval_s, timeout_s / MAX_LINE_SHARE)
        return cls(first, max(max_s, first))

    def delay(self, failures: int) -> float:
        """The wait after the ``failures``-th failure in a row (1, 2, ...) before the next try."""
        return min(self.max_s, self.first_s * 2.0 ** min(failures - 1, 32))


@dataclass(slots=True)
class Reachability:
    """Whether one physical device answers, as its pollers last found it."""

    policy: PollBackoff
    failures_in_row: int = 0
    next_try: float = -math.inf  # monotonic time before which nobody tries it
    trying: bool = False  # a try of a silent device is on its way: the others wait for its outcome
    reason: str = ""  # why the last try failed, and which device it was for

    def may_try(self, slot: float) -> bool:
        """Whether a poll due at ``slot`` may go to the device."""
        if self.failures_in_row == 0:
            return True
        return not self.trying and slot >= self.next_try - 1e-6

    def failed(self, started: float, device: str, reason: str, retry_at: float | None = None) -> float:
        """A try for ``device`` started at ``started`` got no answer: the wait before the next one.
        ``retry_at``: when the driver itself will try the device again (it backs off on its own, as an
        OPC-UA session does): then that is the next try, not the policy's."""
        self.failures_in_row += 1
        self.reason = f"{device}: {reason}"
        if retry_at is not None:
            self.next_try = retry_at
            return max(0.0, retry_at - started)
        wait = self.policy.delay(self.failures_in_row)
        self.next_try = max(self.next_try, started + wait)
        return wait

    def answered(self) -> None:
        self.failures_in_row = 0
        self.next_try = -math.inf
