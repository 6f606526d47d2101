"""Collector faults: killed during ingest or between commit and confirmation, shared
subscriptions, a store that stops answering."""

from __future__ import annotations

import signal
import time
from dataclasses import replace
from pathlib import Path

from harness.faults.scenarios.common import (
    CI,
    Durations,
    first_data,
    kill_during,
    running,
    settle,
)
from harness.faults.stack import FaultStack, Outcome, wait
from harness.procstat import sample


def collector_killed_during_ingest(workdir: Path, d: Durations = CI) -> Outcome:
    """The collector is SIGKILLed ``kills`` times while it ingests a backlog — after it stored part of it,
    inside a store write: batches received and not acknowledged. Its store is slowed (``slow``: 0.3 s
    more per write) so that a write lasts long enough to be caught."""
    slow = ["--fault", "slow", "--delay", "0.3"]
    stack = FaultStack(workdir, collector_fault=slow)
    record = workdir / "collector-e2e.stored"  # the keys of what each run stored, appended
    writing = workdir / "writing"  # the batches of the write under way
    cut: list[int] = []
    with running(stack):
        first_data(stack, d)
        for i in range(d.kills):
            stack.collector_proc_of(0).stop()  # a backlog builds up ...
            time.sleep(d.between_s)
            stored = len(record.read_text().splitlines())
            stack.restart_collector(fault=slow)
            wait(  # ... the collector takes it in (its store grows) ...
                lambda: len(record.read_text().splitlines()) > stored,  # noqa: B023
                d.recovery_timeout_s,
                f"the collector to store part of the backlog (run {i + 1})",
                stack,
            )
            cut.append(len(_kill_inside_a_write(stack, writing, d)))  # ... and is killed in a write
        stack.restart_collector(fault=slow)
        o = settle(stack, d, f"collector SIGKILLed during ingest, {d.kills}×", backlog=True)
    assert all(cut), f"batches in the write each kill cut: {cut}"
    return replace(o, notes=f"batches in the store write each kill cut: {cut}")


def _kill_inside_a_write(stack: FaultStack, writing: Path, d: Durations) -> list[str]:
    """SIGKILL collector 0 while a write of its store is under way; the keys of that write's batches."""
    kill_during(stack.collector_proc_of(0), writing.exists, "a store write under way", stack, d)
    keys = writing.read_text().splitlines()  # left behind by the killed write
    writing.unlink()
    return keys


def collector_killed_between_commit_and_confirm(workdir: Path, d: Durations = CI) -> Outcome:
    """The collector dies right after its store committed, before it acknowledged or confirmed: the
    gateway re-sends (and the broker redelivers), the store recognises the batches, confirms them."""
    stack = FaultStack(workdir, collector_fault=["--fault", "kill-after-commit", "--after", "5"])
    with running(stack):
        killed = workdir / "killed-after-commit"
        wait(killed.exists, d.recovery_timeout_s, "the collector to die after a commit", stack)
        proc = stack.collector_proc_of(0)
        wait(lambda: not proc.running, 10, "the collector process to be gone", stack)
        assert proc.proc is not None
        assert proc.proc.returncode == -signal.SIGKILL
        time.sleep(d.between_s)
        stack.restart_collector()
        o = settle(stack, d, "collector killed between its commit and its confirmation")
        # The batches of that commit were confirmed in the end (the agent's buffer is empty) but
        # never stored again: every later run of the collector saw them as duplicates.
        keys = set(killed.read_text().splitlines())
        assert keys
        record = (workdir / "collector-e2e.stored").read_text().splitlines()
        assert keys <= set(record)  # the killed run's own record holds them ...
        assert sum(1 for line in record if line in keys) == len(keys)  # ... once: no later run stored them
        return replace(o, notes=f"{len(keys)} batches committed, then killed; confirmed as duplicates")


def shared_collectors(workdir: Path, d: Durations = CI, collectors: int = 3) -> Outcome:
    """Several collectors share the load (MQTT 5 shared subscription) into one store; one is
    SIGKILLed mid-ingest and comes back later."""
    stack = FaultStack(workdir, collectors=collectors, share_group="ingest", luminaires=10)
    with running(stack):
        first_data(stack, d)
        for _ in range(d.kills):
            stack.collector_proc_of(1).kill()
            time.sleep(d.between_s)
            stack.restart_collector(1)
            time.sleep(d.between_s)
        o = settle(stack, d, f"{collectors} collectors on a shared subscription, one SIGKILLed {d.kills}×")
        shares = [
            len((workdir / f"collector-e2e{'' if i == 0 else f'-{i}'}.stored").read_text().splitlines())
            for i in range(collectors)
        ]
        assert all(n > 0 for n in shares), f"every collector took a share: {shares}"
        return replace(o, notes=f"batches stored per collector: {shares}")


def slow_store(workdir: Path, d: Durations = CI) -> Outcome:
    """The store stops answering for ``stall_s`` (writes block): back-pressure, no loss, bounded memory
    in the collector and the agent."""
    stack = FaultStack(workdir, collector_fault=["--fault", "stall"], luminaires=10)
    with running(stack):
        first_data(stack, d)
        agent, collector = stack.agent, stack.collector_proc_of(0)
        assert agent is not None
        assert agent.proc is not None
        assert collector.proc is not None
        base_agent, base_collector = sample(agent.proc.pid).rss_kb, sample(collector.proc.pid).rss_kb
        flag = workdir / "stall"
        flag.touch()
        peak_agent, peak_collector = base_agent, base_collector
        t0 = time.monotonic()
        while time.monotonic() - t0 < d.stall_s:
            peak_agent = max(peak_agent, sample(agent.proc.pid).rss_kb)
            peak_collector = max(peak_collector, sample(collector.proc.pid).rss_kb)
            time.sleep(0.25)
        flag.unlink()
        o = settle(stack, d, "slow store (writes stalled)", backlog=True)
        grew_agent = (peak_agent - base_agent) / 1024
        grew_collector = (peak_collector - base_collector) / 1024
        assert grew_agent < 10, f"agent RSS grew by {grew_agent:.1f} MB during the stall"
        assert grew_collector < 30, f"collector RSS grew by {grew_collector:.1f} MB during the stall"
        return replace(
            o, notes=f"RSS growth in the stall: agent {grew_agent:.1f} MB, collector {grew_collector:.1f} MB"
        )
