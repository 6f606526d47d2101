"""Shared by the benchmarks: run the real stack (harness/stack.py), clean up on signals; a process's samples
come from harness/procstat.py."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from harness.procstat import ProcSample, sample
from harness.stack import BIN, Proc, Stack


def read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to a live SQLite database (WAL: it never blocks its writer)."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10, isolation_level=None)


def new_buffer_file(path: Path, page_size: int | None) -> None:
    """Create the file ``Buffer.open`` would create (WAL), with SQLite page size ``page_size``; nothing
    for ``None`` (``Buffer.open`` then creates it with SQLite's default, 4096)."""
    if page_size is not None:
        with closing(sqlite3.connect(path)) as db:
            db.execute(f"PRAGMA page_size={page_size}")
            db.execute("PRAGMA journal_mode=WAL")


def remove_db(*paths: Path) -> None:
    """Delete SQLite databases with their WAL and WAL index."""
    for p in paths:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{p}{suffix}").unlink(missing_ok=True)


def wait_until(cond: Callable[[], bool], timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(every)
    return False


def exit_on_signals() -> None:
    """SIGTERM and SIGHUP end the benchmark like Ctrl-C does: its ``finally`` blocks stop the processes
    it started and its temporary folders are removed."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (&)


@dataclass
class BenchStack(Stack):
    """The demo stack with settings of the agent's config overridden (``{"buffer": {"max_bytes": …}}``
    merges into the ``buffer`` section, ``{"health_interval_s": 60}`` replaces a value),
    started in steps: the parts first, each ready before the next, then the agent (timed by the caller).

    ``peer`` is what receives the batches: the real collector, or ``bench.confirm_peer`` (confirms every
    batch without storing it: the most any collector could do for this agent)."""

    agent_overrides: Mapping[str, Any] = field(default_factory=dict)
    peer: str = "collector"
    store_dir: Path | None = None  # where the collector's store goes (default: the work folder)

    @property
    def store_path(self) -> Path:
        return (self.store_dir or self.workdir) / "store.db"

    def write_configs(self) -> None:
        super().write_configs()
        cfg = yaml.safe_load(self.agent_config.read_text())
        for key, value in self.agent_overrides.items():
            if isinstance(value, Mapping):
                cfg.setdefault(key, {}).update(value)
            else:
                cfg[key] = value
        self.agent_config.write_text(yaml.safe_dump(cfg, sort_keys=False))

    def start(self) -> BenchStack:
        self.start_parts()
        self.start_agent()
        return self

    def start_parts(self) -> None:
        """Broker, luminaire simulator and the peer, subscribed before this returns."""
        super().start_parts()
        log = self.workdir / f"{self.peer}.log"
        if not wait_until(lambda: "connected to broker" in _text(log), 30):
            raise RuntimeError(f"{self.peer} did not connect to the broker:\n{_text(log)[-2000:]}")

    def collector_proc(self) -> Proc:
        if self.peer == "collector":
            return super().collector_proc()
        assert self.broker is not None
        argv = [str(BIN / "python"), "-m", "bench.confirm_peer", "--port", str(self.broker.port)]
        argv += ["--site", self.site, "--gateway", self.gateway]
        return Proc(self.peer, argv, self.workdir / f"{self.peer}.log")

    def start_agent(self) -> int:
        """Start the agent; its pid."""
        return self._start_agent(self.agent_proc())

    def start_flush(self, timeout: float) -> int:
        """Start ``edge-agent flush`` (delivers the buffer without polling, exits when it is empty)."""
        return self._start_agent(Proc("agent", self.flush_argv(timeout), self.workdir / "flush.log"))

    def _start_agent(self, proc: Proc) -> int:
        self.agent = proc.start()
        assert proc.proc is not None
        return proc.proc.pid


def pids(stack: BenchStack) -> dict[str, int]:
    """The processes of a running stack, by role."""
    out = {}
    for name, proc in (("agent", stack.agent), (stack.peer, stack.collector), ("simulator", stack.sim)):
        if proc is not None and proc.proc is not None:
            out[name] = proc.proc.pid
    if stack.broker is not None and stack.broker.proc is not None:
        out["mosquitto"] = stack.broker.proc.pid
    return out


def cpu_shares(before: dict[str, ProcSample], pid_of: dict[str, int], wall: float) -> dict[str, float]:
    """Each process's CPU since ``before``, as a share of one core over ``wall`` seconds."""
    return {name: (sample(pid_of[name]).cpu_s - s.cpu_s) / wall for name, s in before.items()}


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
