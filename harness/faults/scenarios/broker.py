"""Broker outages and restarts."""

from __future__ import annotations

import time
from pathlib import Path

from harness.faults.scenarios.common import (
    CI,
    Durations,
    first_data,
    now_ms,
    running,
    settle,
)
from harness.faults.stack import FaultStack, Outcome, wait


def broker_outage(workdir: Path, d: Durations = CI) -> Outcome:
    """The broker stops for ``outage_s``, then comes back (no persistence: it lost every queue)."""
    with running(FaultStack(workdir)) as stack:
        assert stack.broker is not None
        first_data(stack, d)
        stack.broker.stop()
        time.sleep(d.outage_s)
        stack.broker.start()
        return settle(stack, d, "broker stopped, restarted", backlog=True)


def broker_restarts(workdir: Path, d: Durations = CI) -> Outcome:
    """The broker restarts ``restarts`` times in a row, ``between_s`` apart."""
    with running(FaultStack(workdir)) as stack:
        assert stack.broker is not None
        first_data(stack, d)
        for i in range(d.restarts):
            stack.broker.restart(down_s=0.3)
            back = now_ms()
            # Reconnected before the next restart: readings stamped after this one reach the store
            # (sent by the agent, taken in by the collector, both on new connections).
            took = wait(
                lambda: stack.stored_since(back),  # noqa: B023 (waited for within the iteration)
                d.recovery_timeout_s,
                f"readings stamped after restart {i + 1} stored",
                stack,
            )
            time.sleep(max(0.0, d.between_s - took))
        return settle(stack, d, f"broker restarted {d.restarts}× in a row")


def broker_restart_collector_down(workdir: Path, d: Durations = CI) -> Outcome:
    """The collector is away, batches queue for its session at the broker, the broker restarts without
    persistence (the queue is gone), the collector comes back."""
    with running(FaultStack(workdir)) as stack:
        assert stack.broker is not None
        assert stack.collector is not None
        first_data(stack, d)
        stack.collector.stop()
        time.sleep(d.outage_s / 2)
        stack.broker.restart()
        time.sleep(d.outage_s / 2)
        stack.restart_collector()
        return settle(stack, d, "broker restarted (no persistence) while the collector is down", backlog=True)
