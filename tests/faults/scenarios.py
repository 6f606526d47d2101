"""The fault scenarios: each starts the real stack, injects one fault, clears it, and compares the ends.

Each function takes a working folder and :class:`Durations` and returns an :class:`Outcome`. The tests
in this folder run them with :data:`CI` (scaled down: the suite stays within a few minutes) and assert;
``bench/soak.py`` runs them with :data:`SOAK` (full durations) and prints the table in
docs/guarantees.md. The checks a scenario needs beyond the comparison (a drop that must be counted, a
loss a kill may cost) are made here, so both runs make them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.stackrun import sample
from edge_agent.counters import DROPS, Counter
from tests.faults.harness import PY, FaultStack, Outcome, assert_exactly_once, wait
from tests.faults.journal import Key, read_journal
from tests.faults.smalldisk import SmallDisk
from wire import topics
from wire.points import Reading
from wire.telemetry import BatchKey, encode_batch


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


def _first_data(stack: FaultStack, d: Durations) -> None:
    wait(lambda: stack.stored_count() > 0, d.recovery_timeout_s, "the first readings in the store", stack)
    time.sleep(d.warmup_s)


def _recovered(stack: FaultStack, cleared_ms: int, d: Durations) -> float:
    """Seconds from the fault's end until a reading stamped after it is in the store."""
    return wait(lambda: stack.stored_since(cleared_ms), d.recovery_timeout_s, "fresh readings stored", stack)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _drained(stack: FaultStack, cleared_ms: int, d: Durations) -> float:
    """Seconds from the fault's end until the agent's buffer holds nothing stamped before it (its
    backlog)."""

    def done() -> bool:
        st = stack.status()
        if st is None:
            return False
        oldest = st["buffer"]["oldest_age_s"]
        return oldest is None or st["now_ms"] - oldest * 1000 >= cleared_ms

    wait(done, max(d.recovery_timeout_s, d.outage_s * 2), "the backlog drained", stack)
    return (_now_ms() - cleared_ms) / 1000


def _settle(
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
    cleared = _now_ms()
    recovery = _recovered(stack, cleared, d)
    drained = _drained(stack, cleared, d) if backlog else None
    if dropped:
        wait(lambda: _counted_at_centre(stack), 30, "the final drop count at the centre", stack)
    time.sleep(d.after_s)
    o = stack.finish(scenario, recovery_s=recovery, drained_s=drained)
    if check:
        assert_exactly_once(o, stack, dropped=dropped)
    return o


# ---- the broker ---------------------------------------------------------------------------------
def broker_outage(workdir: Path, d: Durations = CI) -> Outcome:
    """The broker stops for ``outage_s``, then comes back (no persistence: it lost every queue)."""
    with running(FaultStack(workdir)) as stack:
        assert stack.broker is not None
        _first_data(stack, d)
        stack.broker.stop()
        time.sleep(d.outage_s)
        stack.broker.start()
        return _settle(stack, d, "broker stopped, restarted", backlog=True)


def broker_restarts(workdir: Path, d: Durations = CI) -> Outcome:
    """The broker restarts ``restarts`` times in a row, ``between_s`` apart."""
    with running(FaultStack(workdir)) as stack:
        assert stack.broker is not None
        _first_data(stack, d)
        for _ in range(d.restarts):
            stack.broker.restart(down_s=0.3)
            time.sleep(d.between_s)
        return _settle(stack, d, f"broker restarted {d.restarts}× in a row")


def broker_restart_collector_down(workdir: Path, d: Durations = CI) -> Outcome:
    """The collector is away, batches queue for its session at the broker, the broker restarts without
    persistence (the queue is gone), the collector comes back."""
    with running(FaultStack(workdir)) as stack:
        assert stack.broker is not None
        assert stack.collector is not None
        _first_data(stack, d)
        stack.collector.stop()
        time.sleep(d.outage_s / 2)
        stack.broker.restart()
        time.sleep(d.outage_s / 2)
        stack.restart_collector()
        return _settle(
            stack, d, "broker restarted (no persistence) while the collector is down", backlog=True
        )


# ---- the collector ------------------------------------------------------------------------------
def collector_killed_during_ingest(workdir: Path, d: Durations = CI) -> Outcome:
    """The collector is SIGKILLed ``kills`` times while it ingests a backlog."""
    with running(FaultStack(workdir)) as stack:
        _first_data(stack, d)
        for _ in range(d.kills):
            stack.collector_proc_of(0).stop()  # a backlog builds up ...
            time.sleep(d.between_s)
            stack.restart_collector()
            time.sleep(0.8)  # ... and the collector is killed while it takes it in
            stack.collector_proc_of(0).kill()
        stack.restart_collector()
        return _settle(stack, d, f"collector SIGKILLed during ingest, {d.kills}×", backlog=True)


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
        o = _settle(stack, d, "collector killed between its commit and its confirmation")
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
        _first_data(stack, d)
        for _ in range(d.kills):
            stack.collector_proc_of(1).kill()
            time.sleep(d.between_s)
            stack.restart_collector(1)
            time.sleep(d.between_s)
        o = _settle(stack, d, f"{collectors} collectors on a shared subscription, one SIGKILLed {d.kills}×")
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
        _first_data(stack, d)
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
        o = _settle(stack, d, "slow store (writes stalled)", backlog=True)
        grew_agent = (peak_agent - base_agent) / 1024
        grew_collector = (peak_collector - base_collector) / 1024
        assert grew_agent < 10, f"agent RSS grew by {grew_agent:.1f} MB during the stall"
        assert grew_collector < 30, f"collector RSS grew by {grew_collector:.1f} MB during the stall"
        return replace(
            o, notes=f"RSS growth in the stall: agent {grew_agent:.1f} MB, collector {grew_collector:.1f} MB"
        )


# ---- the agent ----------------------------------------------------------------------------------
def agent_killed_repeatedly(workdir: Path, d: Durations = CI) -> Outcome:
    """The agent is SIGKILLed ``kills`` times while it polls and publishes, and restarted each time.
    The promise: a kill costs at most the poll in progress — per device, the readings of one poll."""
    stack = FaultStack(workdir, poll_interval_s=0.2)
    with running(stack):
        _first_data(stack, d)
        assert stack.agent is not None
        assert stack.agent.stop() == 0, stack.logs()  # a clean restart first: it costs nothing
        stack.agent.start()
        for _ in range(d.kills):
            time.sleep(d.between_s)
            assert stack.agent is not None
            stack.agent.kill()
            stack.agent.start()
        o = _settle(stack, d, f"agent SIGKILLed while publishing, {d.kills}×")
        journal = read_journal(stack.journal)
        killed_runs = journal.runs()[1:-1]  # the first run stopped cleanly, so did the last
        for pid in killed_runs:
            cut = [c for c in journal.unfinished() if c.pid == pid]
            devices = [r[0] for c in cut for r in c.readings]
            polls = {(r[0], r[2]) for c in cut for r in c.readings}
            per_device = {dev: sum(1 for p in polls if p[0] == dev) for dev in set(devices)}
            assert all(n == 1 for n in per_device.values()), f"run {pid}: several polls cut: {per_device}"
        return replace(o, notes=f"{len(killed_runs)} runs killed")


def clock_steps_back(workdir: Path, d: Durations = CI) -> Outcome:
    """The gateway's wall clock steps back by one hour mid-run: readings stamped an hour earlier than
    those before them are all stored, none merged with or mistaken for another."""
    stack = FaultStack(workdir, steppable_clock=True)
    with running(stack):
        _first_data(stack, d)
        assert stack.agent is not None
        assert stack.agent.proc is not None
        stepped = _now_ms()
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


# ---- the network --------------------------------------------------------------------------------
def silent_partition(workdir: Path, d: Durations = CI) -> Outcome:
    """The path between agent and broker drops everything without closing anything for ``outage_s``:
    the MQTT keepalive notices, the agent reconnects once the path heals."""
    stack = FaultStack(workdir, keepalive_s=5, use_partition=True)
    with running(stack):
        partition = stack.partition
        assert partition is not None
        _first_data(stack, d)
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
        o = _settle(stack, d, "silent network partition (packets dropped)", backlog=True)
        return replace(o, notes=f"noticed after {noticed:.1f} s (keepalive {stack.keepalive_s} s)")


def _counted_at_centre(stack: FaultStack) -> bool:
    """Whether the store has the agent's current count of dropped readings (its health points)."""
    st = stack.status()
    if st is None:
        return False
    total = sum(int(st["buffer"].get(c, 0)) for c in DROPS)
    return stack.agent_point(Counter.DROPPED) == total


# ---- bounds -------------------------------------------------------------------------------------
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
        _first_data(stack, d)
        stack.broker.stop()
        counter = Counter.DROPPED_THINNED if when_full == "thin" else Counter.DROPPED_BUFFER_FULL
        wait(lambda: stack.buffer_counter(counter) > 0, 120, f"the buffer at its cap ({counter})", stack)
        time.sleep(d.between_s)
        stack.broker.start()
        o = _settle(stack, d, f"buffer full, when_full: {when_full}", backlog=True, dropped=True)
        assert o.dropped_counted > 0
        if when_full != "thin":
            return o
        # Thinning removes plain measurements only; states, alarms, booleans, `online` and bad
        # readings go only when nothing is left to thin and the oldest data must go (counted apart).
        thinned = int(stack.agent_point(Counter.DROPPED_THINNED) or 0)
        dropped_oldest = int(stack.agent_point(Counter.DROPPED_BUFFER_FULL) or 0)
        plain, other = thinned_only_measurements(stack)
        assert thinned > 0, stack.logs()
        assert other <= dropped_oldest, f"{other} states or alarms missing, {dropped_oldest} dropped oldest"
        return replace(
            o,
            notes=f"thinned {thinned}, dropped oldest {dropped_oldest}; missing {plain} plain, {other} other",
        )


# ---- payloads -----------------------------------------------------------------------------------
def _bad_payloads(site: str, gateway: str) -> list[tuple[str, bytes]]:
    """What a broken or hostile publisher may put on the telemetry topics."""
    telemetry = topics.topic(site, gateway, topics.TopicKind.TELEMETRY)
    good = encode_batch(
        BatchKey(gateway, "0badc0ffee0badc0", 1), [Reading("lum-00", "level", _now_ms(), 50.0)] * 20
    )
    return [
        (telemetry, b""),
        (telemetry, os.urandom(3000)),
        (telemetry, b"\x81\xa1a\x01"),  # msgpack, but a map of the wrong shape
        (telemetry, good[: len(good) // 2]),  # cut short
        (telemetry, good.replace(gateway.encode(), b"x" * len(gateway))),  # another gateway's key
        (telemetry, b"\x00" * (5 * 1024 * 1024)),  # larger than ingest.max_payload_bytes (4 MiB)
        (topics.topic(site, "bad gateway!", topics.TopicKind.TELEMETRY), good),  # not a gateway name
    ]


def _publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fault-injector", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for t, payload in messages:
            client.publish(t, payload, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def malformed_payloads(workdir: Path, d: Durations = CI) -> Outcome:
    """Malformed and oversized payloads on the telemetry topics, among a gateway's good batches: each
    is quarantined with its reason, ingest goes on, the gateway's readings are stored exactly once."""
    with running(FaultStack(workdir)) as stack:
        assert stack.broker is not None
        _first_data(stack, d)
        bad = _bad_payloads(stack.site, stack.gateway)
        _publish(stack.broker.port, bad)
        quarantined = wait(
            lambda: stack.quarantined() >= len(bad),
            d.recovery_timeout_s,
            "the bad payloads quarantined",
            stack,
        )
        assert stack.collector_proc_of(0).running, stack.logs()
        o = _settle(stack, d, "malformed and oversized payloads on the telemetry topic")
        assert stack.quarantined() == len(bad)
        return replace(o, notes=f"{len(bad)} quarantined within {quarantined:.1f} s")


# ---- the negative control ------------------------------------------------------------------------
def negative_control(workdir: Path, d: Durations = CI) -> Outcome:
    """A collector that confirms before its commit (built for this test only) is killed: the readings
    it had confirmed but not committed are gone. The comparison must show that loss — proof that the
    suite can see one. The caller asserts that it does; this function does not check exactly-once."""
    stack = FaultStack(workdir, collector_fault=["--fault", "confirm-before-commit", "--delay", "3"])
    with running(stack):
        _first_data(stack, d)
        stack.collector_proc_of(0).kill()
        stack.restart_collector()
        return _settle(
            stack, d, "NEGATIVE CONTROL: a collector confirms before its commit, killed", check=False
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
            _first_data(stack, d)
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
            o = _settle(
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
