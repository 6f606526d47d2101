"""A silent network partition between the agent and the broker."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from harness.faults.scenarios.common import (
    CI,
    Durations,
    first_data,
    running,
    settle,
)
from harness.faults.stack import FaultStack, Outcome, wait


def silent_partition(workdir: Path, d: Durations = CI) -> Outcome:
    """The path between agent and broker drops everything without closing anything for ``outage_s``:
    the MQTT keepalive notices, the agent reconnects once the path heals."""
    stack = FaultStack(workdir, keepalive_s=5, use_partition=True)
    with running(stack):
        partition = stack.partition
        assert partition is not None
        first_data(stack, d)
        partition.cut()
        t_cut = time.monotonic()
        noticed = wait(
            lambda: not ((stack.status() or {}).get("uplink") or {}).get("connected", True),
            3 * stack.keepalive_s + 5,
            "the agent to notice the partition",
            stack,
        )
        assert noticed <= 2 * stack.keepalive_s + 2, f"partition noticed after {noticed:.1f} s"
        time.sleep(max(0.0, d.outage_s - (time.monotonic() - t_cut)))
        partition.heal()
        o = settle(stack, d, "silent network partition (packets dropped)", backlog=True)
        return replace(o, notes=f"noticed after {noticed:.1f} s (keepalive {stack.keepalive_s} s)")
