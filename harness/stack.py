"""The whole stack as real processes: luminaire simulator, Mosquitto, edge agent, collector.

Used by the end-to-end tests and by the demo. Each part can be stopped, killed (-9) and restarted.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from edge_agent.counters import Counter
from harness.broker import Broker, free_port
from harness.commands import CommandKeys, write_command_keys

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def wait_port(port: int, timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


@dataclass
class Proc:
    name: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            process_group=0,  # its own: a Ctrl-C at the terminal reaches the demo only, which stops it
        )
        out.close()
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


@dataclass
class Stack:
    workdir: Path
    luminaires: int = 5
    poll_interval_s: float = 0.5
    confirm_timeout_s: float = 2.0
    gateway: str = "cab-e2e"
    site: str = "test"
    agent_log_level: str = "INFO"
    max_gap: int = 80
    commit_interval_s: float = 0.5
    keepalive_s: int = 5
    health_interval_s: float = 5
    buffer_settings: str = ""  # more `buffer:` keys, YAML flow style: "max_bytes: 1048576, when_full: thin"
    collector_settings: str = ""  # more top-level collector YAML
    sim_port: int = field(default_factory=free_port)
    whole_cabinet: bool = False  # also a bollard site (Modbus TCP) and a traffic controller (OPC-UA)
    bollard_port: int = field(default_factory=free_port)
    traffic_port: int = field(default_factory=free_port)
    commands: bool = False  # signed commands: keys, and both configs' `commands:` (harness/commands.py)
    lighting: bool = False  # the agent's `lighting:` (needs commands): its runner and fault monitor
    profile_dir: Path = ROOT / "configs" / "profiles"
    command_keys: CommandKeys | None = None
    broker: Broker | None = None
    sim: Proc | None = None
    extra_sims: list[Proc] = field(default_factory=list)
    agent: Proc | None = None
    collector: Proc | None = None

    @property
    def agent_config(self) -> Path:
        return self.workdir / "agent.yaml"

    @property
    def collector_config(self) -> Path:
        return self.workdir / "collector.yaml"

    @property
    def store_path(self) -> Path:
        return self.workdir / "store.db"

    @property
    def buffer_path(self) -> Path:
        return self.workdir / "buffer.db"

    @property
    def agent_broker_port(self) -> int:
        """The port the agent dials (the broker's; a test may put a proxy in between)."""
        assert self.broker is not None
        return self.broker.port

    def write_configs(self) -> None:
        assert self.broker is not None
        extra = f", {self.buffer_settings}" if self.buffer_settings else ""
        if self.commands and self.command_keys is None:
            self.command_keys = write_command_keys(self.workdir, gateway=self.gateway, site=self.site)
        agent_commands = self.command_keys.agent_section if self.command_keys else ""
        if self.commands and self.whole_cabinet:  # the traffic simulator's default code (its method calls)
            agent_commands += 'secrets: {security_code: "1234"}\n'
        if self.lighting:
            assert self.commands, "lighting: needs commands:"
            store = self.workdir / "lighting.db"
            agent_commands += f"lighting: {{timezone: Europe/Paris, store: {store}, clock_sync: assume}}\n"
        self.agent_config.write_text(
            f"""gateway: {self.gateway}
site: {self.site}
broker: {{host: 127.0.0.1, port: {self.agent_broker_port}, keepalive_s: {self.keepalive_s}}}
buffer: {{path: {self.buffer_path}, commit_interval_s: {self.commit_interval_s}{extra}}}
uplink: {{batch_max_readings: 500, batch_linger_s: 0.1, in_flight_batches: 8,
          confirm_timeout_s: {self.confirm_timeout_s}}}
health_interval_s: {self.health_interval_s}
status_socket: {self.workdir / "agent.sock"}
profile_paths: [{self.profile_dir}]
{agent_commands}buses:
  - name: dali-gw-1
    kind: modbus_tcp
    host: 127.0.0.1
    port: {self.sim_port}
    timeout_s: 0.5
    max_gap: {self.max_gap}
    devices:
      - name: "lum-{{sa:02d}}"
        profile: dali-gw-luminaire
        unit: 1
        poll_interval_s: {self.poll_interval_s}
        params: {{c: 0}}
        repeat: {{sa: [0, {self.luminaires - 1}]}}
{self._other_buses() if self.whole_cabinet else ""}"""
        )
        self.collector_config.write_text(self.collector_yaml("collector-e2e"))

    def collector_yaml(self, collector_id: str) -> str:
        assert self.broker is not None
        return f"""collector_id: {collector_id}
broker: {{host: 127.0.0.1, port: {self.broker.port}, keepalive_s: 5}}
store: {{url: "sqlite:///{self.store_path}"}}
{self.collector_settings}
{self.command_keys.collector_section if self.command_keys else ""}"""

    def _other_buses(self) -> str:
        return f"""  - name: bollards-1
    kind: modbus_tcp
    host: 127.0.0.1
    port: {self.bollard_port}
    timeout_s: 0.5
    devices:
      - {{name: bollard-site-1, profile: bollard-site, unit: 1, poll_interval_s: {self.poll_interval_s}}}
  - name: tlc-1
    kind: opcua
    endpoint: opc.tcp://127.0.0.1:{self.traffic_port}/
    security: none
    devices:
      - name: tlc-1
        profile: traffic-controller
        params: {{id: 1, signal_groups: 5, detectors: 4}}
        poll_interval_s: {self.poll_interval_s}
"""

    def _start_other_sims(self) -> None:
        py = [str(BIN / "python"), "-m", "simulators"]
        self.extra_sims = [
            Proc(
                "bollards", [*py, "bollards", "--port", str(self.bollard_port)], self.workdir / "bollards.log"
            ),
            Proc("traffic", [*py, "traffic", "--port", str(self.traffic_port)], self.workdir / "traffic.log"),
        ]
        for p in self.extra_sims:
            p.start()
        wait_port(self.bollard_port)
        wait_port(self.traffic_port, timeout=30)  # asyncua loads its address space first

    def start(self) -> Stack:
        self.start_parts()
        self.agent = self.agent_proc().start()
        return self

    def start_parts(self) -> None:
        """Everything but the agent: the broker, the simulators and the collector."""
        self.broker = Broker(self.workdir).start()
        self.write_configs()
        if self.whole_cabinet:
            self._start_other_sims()
        self.sim = Proc(
            "sim",
            [
                str(BIN / "python"),
                "-m",
                "simulators",
                "luminaires",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.sim_port),
                "--count",
                str(self.luminaires),
            ],
            self.workdir / "sim.log",
        ).start()
        wait_port(self.sim_port)
        self.collector = self.collector_proc().start()

    def collector_proc(self) -> Proc:
        return Proc(
            "collector",
            [str(BIN / "collector"), "run", "--config", str(self.collector_config)],
            self.workdir / "collector.log",
        )

    def agent_proc(self) -> Proc:
        return Proc(
            "agent",
            [str(BIN / "edge-agent"), *self.agent_args()],
            self.workdir / "agent.log",
        )

    def agent_command(self, argv: list[str]) -> list[str]:
        """How an agent command line is run (as it is; a test may run it in another namespace)."""
        return argv

    def agent_args(self) -> list[str]:
        """``edge-agent`` arguments that run this stack's agent."""
        return ["run", "--config", str(self.agent_config), "--log-level", self.agent_log_level]

    def stop(self) -> dict[str, int]:
        """Stop every part in order (SIGTERM, then SIGKILL after a grace period): the agent (nothing polls
        or sends any more), the collector, the simulators, then the broker; the exit code of each part
        that was still started, by name (a part that already died reports its own code; 0 is clean)."""
        codes: dict[str, int] = {}
        for p in (self.agent, self.collector, self.sim, *self.extra_sims):
            if p is not None and (rc := p.stop()) is not None:
                codes[p.name] = rc
        if self.broker is not None and (rc := self.broker.stop()) is not None:
            codes["broker"] = rc
        return codes

    def flush_argv(self, timeout: float) -> list[str]:
        """``edge-agent flush``: deliver what the buffer holds without polling, exit when it is empty."""
        config = str(self.agent_config)
        return [str(BIN / "edge-agent"), "flush", "--config", config, "--timeout", str(timeout)]

    def flush(self, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.agent_command(self.flush_argv(timeout)),
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )

    # ---- what the two ends hold ----------------------------------------------------------------
    def committed(self) -> int:
        """Readings the agent has ever committed to its buffer (its persistent counter)."""
        with closing(sqlite3.connect(f"file:{self.buffer_path}?mode=ro", uri=True, timeout=5)) as db:
            return int(
                db.execute("SELECT value FROM counters WHERE name=?", (Counter.COMMITTED,)).fetchone()[0]
            )

    def stored(self) -> list[tuple[str, str, int]]:
        """(device, point, ts) of every reading of this gateway in the collector's store."""
        if not self.store_path.exists():
            return []
        with closing(sqlite3.connect(f"file:{self.store_path}?mode=ro", uri=True, timeout=5)) as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'readings'").fetchone() is None:
                return []  # the collector has not created its schema yet
            return [
                (d, p, t)
                for d, p, t in db.execute(
                    "SELECT s.device, s.point, r.ts_ms FROM readings r JOIN series s ON s.id = r.series_id "
                    "WHERE s.gateway = ?",
                    (self.gateway,),
                )
            ]

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + p.read_text(errors="replace")[-4000:]
            for p in sorted(self.workdir.glob("*.log"))
        )
