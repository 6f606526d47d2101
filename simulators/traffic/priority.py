"""Bus-priority requests of the traffic-controller simulator (RSMP M0022 requests, S0033 states).

A request is only a request: the controller grants what its plan allows (a green extension within the
plan's limit, or an earlier green that never cuts a minimum green), queues it, or rejects it. The central
cancels it once the bus has passed; otherwise it times out.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass

from simulators.traffic.plan import Cycle, Intersection, Phase


class PriorityType(enum.IntEnum):
    NEW = 0
    UPDATE = 1
    CANCEL = 2


class PriorityState(enum.IntEnum):
    RECEIVED = 0
    QUEUED = 1  # waits for another request or for the next cycle
    ACTIVATED = 2  # the controller acts on it (granted_s may be 0: the green is already there)
    COMPLETED = 3  # cancelled by the central (the bus passed)
    TIMEOUT = 4  # activated, never cancelled
    REJECTED = 5  # nothing the plan allows would help, or the controller is not in normal control
    COOLDOWN = 6  # waits until its signal group may be favoured again
    STALE = 7  # queued until its bus should long have passed


FINAL = frozenset(
    {PriorityState.COMPLETED, PriorityState.TIMEOUT, PriorityState.REJECTED, PriorityState.STALE}
)


@dataclass(slots=True)
class PriorityRequest:
    request_id: str
    signal_group: int
    level: int  # 0..14, higher first
    vehicle_type: int
    received_at: float
    arrival_at: float  # when the bus reaches the stop line (received_at + eta)
    state: PriorityState = PriorityState.RECEIVED
    granted_s: float = 0.0  # green extension, or how much earlier the green starts
    ended_at: float | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL


@dataclass(frozen=True, slots=True)
class PrioritySlot:
    """What the controller shows of one listed request."""

    request_id: str
    state: PriorityState
    signal_group: int
    granted_s: float


PASS_S = 2.0  # green a bus needs after reaching the stop line


class PriorityDesk:
    """The controller's requests: one acted on at a time, the others queued (higher level first); a
    signal group that was just favoured waits ``cooldown_s``; an activated request the central never
    cancels times out ``timeout_s`` after its bus was due, a waiting one goes stale then; finished
    requests stay listed ``linger_s``. ``running()`` is the cycle of normal control, or None when the
    controller is not in it (start-up, a functional position, failure): then requests are rejected."""

    def __init__(
        self,
        intersection: Intersection,
        running: Callable[[], Cycle | None],
        *,
        timeout_s: float,
        cooldown_s: float,
        linger_s: float,
    ) -> None:
        self._ix = intersection
        self._running = running
        self._timeout_s = timeout_s
        self._cooldown_s = cooldown_s
        self._linger_s = linger_s
        self.requests: list[PriorityRequest] = []
        self._cooldown_until: dict[int, float] = {}

    def find(self, request_id: str) -> PriorityRequest:
        for r in self.requests:
            if r.request_id == request_id:
                return r
        raise KeyError(request_id)

    def slots(self, n: int) -> tuple[PrioritySlot, ...]:
        return tuple(
            PrioritySlot(r.request_id, r.state, r.signal_group, r.granted_s) for r in self.requests[-n:]
        )

    def request(
        self,
        t: float,
        request_id: str,
        signal_group: int,
        type_: PriorityType,
        *,
        level: int,
        eta_s: float,
        vehicle_type: int,
    ) -> PriorityState:
        """RSMP M0022: a new request, an update of an open one (its bus's new eta), or a cancel (the bus
        passed). Raises ValueError for arguments the controller cannot take."""
        if not request_id:
            raise ValueError("empty request id")
        open_ = next((r for r in self.requests if r.request_id == request_id and not r.final), None)
        if type_ is PriorityType.CANCEL:
            if open_ is None:
                raise ValueError(f"no open request {request_id!r}")
            if open_.state is PriorityState.ACTIVATED:
                self._cooldown_until[open_.signal_group] = t + self._cooldown_s
            self._finish(open_, PriorityState.COMPLETED, t)
            self._next(t)
            return open_.state
        if not 1 <= signal_group <= len(self._ix.groups):
            raise ValueError(f"no signal group {signal_group}")
        if not 0 <= level <= 14 or not 0 <= eta_s <= 255:
            raise ValueError(f"level {level} (0..14) or eta {eta_s} s (0..255)")
        if open_ is not None:  # an update (or a repeated new): the bus's new arrival time
            open_.arrival_at = t + eta_s
            open_.level = level
            if open_.state is PriorityState.ACTIVATED:
                self._extend_for(open_, t)
            return open_.state
        if type_ is PriorityType.UPDATE:
            raise ValueError(f"no open request {request_id!r}")
        r = PriorityRequest(request_id, signal_group, level, vehicle_type, t, t + eta_s)
        self.requests.append(r)
        self._evaluate(r, t)
        return r.state

    def next_cycle(self, t: float) -> None:
        """A new cycle started: the queued requests may now be served, the most urgent first."""
        waiting = [r for r in self.requests if r.state is PriorityState.QUEUED]
        for r in sorted(waiting, key=lambda r: (-r.level, r.received_at)):
            self._evaluate(r, t)

    def reject_all(self, t: float) -> None:
        for r in self.requests:
            if not r.final:
                self._finish(r, PriorityState.REJECTED, t)

    def events(self) -> list[tuple[float, Callable[[float], None]]]:
        """The desk's next deadlines: (when, what to do then)."""
        out: list[tuple[float, Callable[[float], None]]] = []
        for r in self.requests:
            out.extend(self._events(r))
        return out

    def _events(self, r: PriorityRequest) -> list[tuple[float, Callable[[float], None]]]:
        if r.final:
            assert r.ended_at is not None
            return [(r.ended_at + self._linger_s, lambda when: self.requests.remove(r))]
        deadline = r.arrival_at + self._timeout_s
        if r.state is PriorityState.ACTIVATED:
            return [(deadline, lambda when: self._timed_out(r, when))]
        out = [(deadline, lambda when: self._finish(r, PriorityState.STALE, when))]
        if r.state is PriorityState.COOLDOWN:
            until = self._cooldown_until.get(r.signal_group, -math.inf)
            out.append((until, lambda when: self._evaluate(r, when)))
        return out

    def _evaluate(self, r: PriorityRequest, t: float) -> None:
        cycle = self._running()
        if cycle is None:
            self._finish(r, PriorityState.REJECTED, t)
            return
        if any(o.state is PriorityState.ACTIVATED for o in self.requests if o is not r):
            r.state = PriorityState.QUEUED
            return
        if self._cooldown_until.get(r.signal_group, -math.inf) > t:
            r.state = PriorityState.COOLDOWN
            return
        stages = self._ix.stages
        pos = cycle.position(t)
        if r.signal_group in stages[pos.stage].groups and pos.phase is Phase.GREEN:
            r.state = PriorityState.ACTIVATED
            if not self._extend_for(r, t) and r.arrival_at + PASS_S > pos.green_end:
                self._finish(r, PriorityState.REJECTED, t)  # its green ends before the bus, and cannot wait
            return
        upcoming = (pos.stage + 1) % len(stages)
        if pos.phase is not Phase.GREEN and r.signal_group in stages[upcoming].groups:
            r.state = PriorityState.ACTIVATED  # its green is about to start
            return
        later = [j for j in range(pos.stage + 1, len(stages)) if r.signal_group in stages[j].groups]
        if not later:
            r.state = PriorityState.QUEUED  # its stage has passed in this cycle: the next cycle
            return
        r.granted_s = cycle.advance(later[0], t)
        r.state = PriorityState.ACTIVATED

    def _extend_for(self, r: PriorityRequest, t: float) -> bool:
        """Extend the running green so the bus can pass; True when any extension was granted."""
        cycle = self._running()
        if cycle is None:
            return False
        pos = cycle.position(t)
        if pos.phase is not Phase.GREEN or r.signal_group not in self._ix.stages[pos.stage].groups:
            return False
        need = r.arrival_at + PASS_S - pos.green_end
        granted = cycle.extend(pos.stage, t, need) if need > 0 else 0.0
        r.granted_s += granted
        return granted > 0

    def _timed_out(self, r: PriorityRequest, when: float) -> None:
        self._cooldown_until[r.signal_group] = when + self._cooldown_s
        self._finish(r, PriorityState.TIMEOUT, when)
        self._next(when)

    def _finish(self, r: PriorityRequest, state: PriorityState, when: float) -> None:
        r.state = state
        r.ended_at = when

    def _next(self, t: float) -> None:
        waiting = [r for r in self.requests if r.state is PriorityState.QUEUED]
        if waiting:
            self._evaluate(min(waiting, key=lambda r: (-r.level, r.received_at)), t)
