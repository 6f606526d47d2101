"""The stack under fault: simulators, Mosquitto, collector(s) and an agent whose commits are recorded.

:class:`FaultStack` is the demo's :class:`~harness.stack.Stack` with the agent started through
:mod:`harness.faults.record_agent` (the journal of what it committed), the collectors through
:mod:`harness.faults.fault_collector` (a fault in the store, several collectors on a shared
subscription), optionally a :class:`~harness.faults.proxy.Partition` between agent and broker and the
agent's buffer on a :class:`~harness.faults.smalldisk.SmallDisk`.

:meth:`FaultStack.outcome` compares the journal with the store: what was committed and stored,
duplicated, missing, lost in progress at a kill, and what the agent counted as dropped — as it reached
the centre (its ``_agent`` points in the store).
"""

from __future__ import annotations

import collections
import json
import socket
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.sinks.value import from_columns
from edge_agent.counters import Counter
from harness.faults.journal import Journal, Key, key, read_journal
from harness.faults.proxy import Partition
from harness.faults.smalldisk import SmallDisk
from harness.stack import BIN, Proc, Stack

PY = str(BIN / "python")


@dataclass(frozen=True)
class Outcome:
    """One scenario's figures (a row of the soak table) and what the checks need."""

    scenario: str
    committed: int  # committed for certain, plus in-progress readings that did reach the store
    stored: int
    duplicates: int  # stored more often than committed
    unexpected: int  # stored, but never handed to the buffer
    missing: int  # committed for certain, not in the store
    refused: int  # never committed: the buffer had no room even after dropping (counted by the agent)
    lost_in_progress: int  # handed to the buffer by a call a kill -9 interrupted, not in the store
    lost_at_clean_stop: int  # handed to the buffer before a SIGTERM, not in the store
    dropped_counted: int  # the agent's own count of dropped and rejected readings, as the centre has it
    dropped_unconfirmed: int  # of them: sealed batches given up unconfirmed (some may have been stored)
    recovery_s: float | None = None  # fault cleared → first fresh reading in the store
    drained_s: float | None = None  # fault cleared → nothing left in the agent's buffer
    notes: str = ""

    def row(self) -> str:
        def s(v: float | None) -> str:
            return "—" if v is None else f"{v:.1f}"

        unconfirmed = f" ({self.dropped_unconfirmed:,} unconfirmed)" if self.dropped_unconfirmed else ""
        return (
            f"| {self.scenario} | {self.committed:,} | {self.stored:,} | {self.duplicates} | "
            f"{self.missing + self.refused:,} | {self.dropped_counted:,}{unconfirmed} | "
            f"{self.lost_in_progress} | {s(self.recovery_s)} | {s(self.drained_s)} |"
        )


TABLE_HEAD = (
    "| scenario | readings committed | stored | duplicates | missing | dropped, counted | "
    "lost in progress (kill -9) | recovery, s | backlog drained, s |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def wait(cond: Callable[[], bool], timeout: float, what: str, stack: Stack | None = None) -> float:
    """Wait for ``cond``; the seconds it took. Fails with the stack's logs."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{stack.logs() if stack else ''}")


@dataclass
class FaultStack(Stack):
    collectors: int = 1
    share_group: str | None = None
    collector_fault: list[str] = field(default_factory=list)  # fault_collector args of collector 0
    steppable_clock: bool = False
    key_reserve: bool = True  # False: the agent reserves no batch keys (the kill -9 test's control)
    use_partition: bool = False  # the agent dials a Partition in front of the broker
    partition: Partition | None = None
    disk: SmallDisk | None = None  # the agent's buffer lives on it
    more_collectors: list[Proc] = field(default_factory=list)

    @property
    def journal(self) -> Path:
        return self.workdir / "journal"

    @property
    def buffer_path(self) -> Path:
        return (self.disk.mountpoint if self.disk else self.workdir) / "buffer.db"

    @property
    def agent_broker_port(self) -> int:
        return self.partition.port if self.partition else super().agent_broker_port

    def collector_config_of(self, i: int) -> Path:
        return self.collector_config if i == 0 else self.workdir / f"collector-{i}.yaml"

    def collector_yaml(self, collector_id: str) -> str:
        text = super().collector_yaml(collector_id)
        if self.share_group:
            text = text.replace("keepalive_s: 5}", f"keepalive_s: 5, share_group: {self.share_group}}}")
        return text

    def write_configs(self) -> None:
        if self.use_partition and self.partition is None:
            assert self.broker is not None
            self.partition = Partition(self.broker.port).__enter__()  # a broker restart keeps its port
        super().write_configs()
        for i in range(1, self.collectors):
            self.collector_config_of(i).write_text(self.collector_yaml(f"collector-e2e-{i}"))

    # ---- processes -----------------------------------------------------------------------------
    def collector_proc(self, i: int = 0, fault: list[str] | None = None) -> Proc:
        args = self.collector_fault if fault is None and i == 0 else (fault or [])
        return Proc(
            f"collector-{i}",
            [
                PY,
                "-m",
                "harness.faults.fault_collector",
                "--config",
                str(self.collector_config_of(i)),
                "--control",
                str(self.workdir),
                *args,
            ],
            self.workdir / f"collector-{i}.log",
        )

    def agent_proc(self) -> Proc:
        clock = ["--steppable-clock"] if self.steppable_clock else []
        clock += [] if self.key_reserve else ["--no-key-reserve"]
        argv = [PY, "-m", "harness.faults.record_agent", str(self.journal), *clock, "--", *self.agent_args()]
        return Proc("agent", self.agent_command(argv), self.workdir / "agent.log")

    def agent_command(self, argv: list[str]) -> list[str]:
        return self.disk.wrap(argv) if self.disk else argv

    def start(self) -> FaultStack:
        super().start()
        for i in range(1, self.collectors):
            self.more_collectors.append(self.collector_proc(i).start())
        return self

    def stop(self) -> dict[str, int]:
        more = {p.name: rc for p in self.more_collectors if (rc := p.stop()) is not None}
        codes = super().stop()
        if self.partition is not None:
            self.partition.__exit__(None, None, None)
            self.partition = None
        return {**codes, **more}

    def restart_collector(self, i: int = 0, fault: list[str] | None = None) -> None:
        """Start collector ``i`` again (it was stopped or killed), by default without a fault."""
        proc = self.collector_proc(i, fault or [])
        if i == 0:
            self.collector = proc.start()
        else:
            self.more_collectors[i - 1] = proc.start()

    def collector_proc_of(self, i: int) -> Proc:
        proc = self.collector if i == 0 else self.more_collectors[i - 1]
        assert proc is not None
        return proc

    # ---- what the two ends hold ----------------------------------------------------------------
    def store_rows(self) -> collections.Counter[Key]:
        """Every reading of this gateway in the store, counted."""
        if not self.store_path.exists():
            return collections.Counter()
        with sqlite3.connect(f"file:{self.store_path}?mode=ro", uri=True, timeout=10) as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'readings'").fetchone() is None:
                return collections.Counter()
            rows = db.execute(
                "SELECT s.device, s.point, r.ts_ms, r.value_kind, r.value_num, r.value_text, r.quality "
                "FROM readings r JOIN series s ON s.id = r.series_id WHERE s.gateway = ?",
                (self.gateway,),
            )
            return collections.Counter(
                key(d, p, ts, from_columns(kind, num, text), q) for d, p, ts, kind, num, text, q in rows
            )

    def stored_since(self, ts_ms: int, until_ms: int = 2**62) -> bool:
        """Whether the store holds a reading of a field device (not ``_agent``) stamped in
        ``[ts_ms, until_ms)``."""
        if not self.store_path.exists():
            return False
        try:
            with sqlite3.connect(f"file:{self.store_path}?mode=ro", uri=True, timeout=10) as db:
                row = db.execute(
                    "SELECT 1 FROM readings r JOIN series s ON s.id = r.series_id "
                    "WHERE s.gateway = ? AND s.device != '_agent' AND r.ts_ms >= ? AND r.ts_ms < ? LIMIT 1",
                    (self.gateway, ts_ms, until_ms),
                ).fetchone()
        except sqlite3.OperationalError:  # no schema yet
            return False
        return row is not None

    def quarantined(self) -> int:
        """Payloads in the store's quarantine."""
        if not self.store_path.exists():
            return 0
        try:
            with sqlite3.connect(f"file:{self.store_path}?mode=ro", uri=True, timeout=10) as db:
                return int(db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])
        except sqlite3.OperationalError:
            return 0

    def conflicts(self) -> int:
        """Payloads the store quarantined because their key named other content (a key used twice)."""
        if not self.store_path.exists():
            return 0
        try:
            with sqlite3.connect(f"file:{self.store_path}?mode=ro", uri=True, timeout=10) as db:
                q = "SELECT COUNT(*) FROM quarantine WHERE reason LIKE '%conflict%'"
                return int(db.execute(q).fetchone()[0])
        except sqlite3.OperationalError:
            return 0

    def agent_point(self, point: str) -> float | None:
        """The highest value of an ``_agent`` point in the store (counters only grow)."""
        if not self.store_path.exists():
            return None
        with sqlite3.connect(f"file:{self.store_path}?mode=ro", uri=True, timeout=10) as db:
            row = db.execute(
                "SELECT MAX(r.value_num) FROM readings r JOIN series s ON s.id = r.series_id "
                "WHERE s.gateway = ? AND s.device = '_agent' AND s.point = ?",
                (self.gateway, point),
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def status(self) -> dict[str, Any] | None:
        """The running agent's answer on its status socket (to steer a scenario, never as its verdict)."""
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(5)
                s.connect(str(self.workdir / "agent.sock"))
                s.sendall(b'{"cmd": "status"}\n')
                data = b""
                while not data.endswith(b"\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return None
        answer: dict[str, Any] = json.loads(data)
        return answer

    def buffer_counter(self, name: Counter) -> int:
        """One of the agent's buffer counters, 0 while it does not answer."""
        st = self.status()
        return int(st["buffer"].get(name, 0)) if st else 0

    def stored_count(self) -> int:
        return sum(self.store_rows().values())

    def journal_now(self) -> Journal:
        return read_journal(self.journal)

    def finish(
        self, scenario: str, *, recovery_s: float | None = None, drained_s: float | None = None
    ) -> Outcome:
        """Stop the agent cleanly, deliver what its buffer still holds, and compare the two ends."""
        assert self.agent is not None
        rc = self.agent.stop()
        assert rc == 0, f"agent exited with {rc}\n{self.logs()}"
        flushed = self.flush(timeout=90)
        assert flushed.returncode == 0, f"flush: {flushed.stdout}{flushed.stderr}\n{self.logs()}"
        return self.outcome(scenario, recovery_s=recovery_s, drained_s=drained_s)

    def outcome(
        self, scenario: str, *, recovery_s: float | None = None, drained_s: float | None = None
    ) -> Outcome:
        journal = self.journal_now()
        certain, maybe = journal.committed, journal.in_progress
        stored = self.store_rows()
        handed = certain + maybe
        duplicates = sum(max(0, n - handed[k]) for k, n in stored.items() if k in handed)
        unexpected = sum(n for k, n in stored.items() if k not in handed)
        missing = sum((certain - stored).values())
        refused = sum(journal.refused.values())
        lost_in_progress = sum((maybe - (stored - certain)).values())
        arrived_in_progress = sum(maybe.values()) - lost_in_progress
        lost_at_clean_stop = sum((journal.in_progress_at_clean_stop - (stored - certain)).values())
        counted = int((self.agent_point(Counter.DROPPED) or 0) + (self.agent_point(Counter.REJECTED) or 0))
        return Outcome(
            scenario=scenario,
            committed=sum(certain.values()) + arrived_in_progress,
            stored=sum(stored.values()),
            duplicates=duplicates,
            unexpected=unexpected,
            missing=missing,
            refused=refused,
            lost_in_progress=lost_in_progress,
            lost_at_clean_stop=lost_at_clean_stop,
            dropped_counted=counted,
            dropped_unconfirmed=int(self.agent_point(Counter.DROPPED_UNCONFIRMED) or 0),
            recovery_s=recovery_s,
            drained_s=drained_s,
        )


def assert_exactly_once(o: Outcome, stack: Stack | None = None, *, dropped: bool = False) -> None:
    """Nothing stored twice or out of nowhere; nothing committed missing but what the agent counted."""
    logs = f"\n{stack.logs()}" if stack else ""
    assert o.duplicates == 0, f"{o.duplicates} readings stored twice: {o}{logs}"
    assert o.unexpected == 0, f"{o.unexpected} readings stored that were never committed: {o}{logs}"
    assert o.lost_at_clean_stop == 0, f"a clean stop lost {o.lost_at_clean_stop} readings: {o}{logs}"
    if dropped:
        # Exactly the counted readings are missing — but a batch dropped after it was sent may have
        # been stored before its confirmation was lost: those drops are an upper bound.
        lost = o.missing + o.refused
        certain = o.dropped_counted - o.dropped_unconfirmed
        assert certain <= lost <= o.dropped_counted, (
            f"missing {o.missing} + refused {o.refused}, counted {o.dropped_counted} "
            f"(of which {o.dropped_unconfirmed} unconfirmed, may have been stored): {o}{logs}"
        )
    else:
        assert o.missing == 0, f"{o.missing} committed readings never reached the store: {o}{logs}"
        assert o.dropped_counted == 0, f"the agent counted {o.dropped_counted} dropped: {o}{logs}"
        assert o.refused == 0, f"the buffer refused {o.refused} readings: {o}{logs}"
