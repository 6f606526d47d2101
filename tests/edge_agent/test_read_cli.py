"""``edge-agent read``, ``buffer`` and ``flush`` without a running agent: what a new user meets first."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.broker import free_port
from harness.stack import BIN, ROOT, Proc, wait_port


def config(tmp_path: Path, *, opcua_port: int, modbus_port: int) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(
        f"""gateway: cab-t
site: test
broker: {{host: 127.0.0.1, port: {free_port()}}}
buffer: {{path: {tmp_path / "buffer.db"}}}
status_socket: {tmp_path / "agent.sock"}
profile_paths: [{ROOT / "configs" / "profiles"}]
buses:
  - name: tlc-1
    kind: opcua
    endpoint: opc.tcp://127.0.0.1:{opcua_port}/
    security: none
    devices:
      - name: tlc-1
        profile: traffic-controller
        params: {{id: 1, signal_groups: 5, detectors: 4}}
  - name: dali-gw-1
    kind: modbus_tcp
    host: 127.0.0.1
    port: {modbus_port}
    timeout_s: 0.5
    devices:
      - name: "lum-{{sa:02d}}"
        profile: dali-gw-luminaire
        unit: 1
        params: {{c: 0}}
        repeat: {{sa: [0, 19]}}
"""
    )
    return path


def agent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "edge-agent"), *args], capture_output=True, text=True, timeout=90, check=False
    )


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return config(tmp_path, opcua_port=free_port(), modbus_port=free_port())  # nothing listens on either


def test_read_of_an_offline_opcua_device_names_it_once(cfg: Path) -> None:
    proc = agent("read", "tlc-1", "--config", str(cfg))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith("tlc-1: "), proc.stderr
    assert proc.stderr.count("tlc-1:") == 1, proc.stderr  # not "tlc-1: tlc-1: ..."
    assert len(proc.stderr.splitlines()) == 1, proc.stderr  # no asyncua log line around it


def test_read_of_an_offline_modbus_device_names_it_once(cfg: Path) -> None:
    proc = agent("read", "lum-03", "--config", str(cfg))
    assert proc.returncode == 1
    assert proc.stderr.count("lum-03:") == 1, proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr  # no pymodbus log line around it


def test_read_of_an_unknown_device_lists_close_names(cfg: Path) -> None:
    proc = agent("read", "lum-99", "--config", str(cfg))
    assert proc.returncode == 2
    assert proc.stderr.startswith("unknown device 'lum-99'; close names: lum-19, lum-09, "), proc.stderr
    far = agent("read", "pump1", "--config", str(cfg))
    assert far.returncode == 2
    assert "unknown device 'pump1'; known: lum-00, lum-01" in far.stderr


def test_read_of_an_unknown_point_lists_close_names(cfg: Path) -> None:
    proc = agent("read", "lum-01", "active_powr", "--config", str(cfg))
    assert proc.returncode == 2
    assert proc.stderr.startswith("lum-01: unknown point 'active_powr'; close names: active_power")


def test_read_of_a_live_device_as_json(tmp_path: Path) -> None:
    port = free_port()
    sim = Proc(
        "sim",
        [str(BIN / "python"), "-m", "simulators", "luminaires", "--port", str(port), "--count", "2"],
        tmp_path / "sim.log",
    ).start()
    try:
        wait_port(port)
        cfg = config(tmp_path, opcua_port=free_port(), modbus_port=port)
        proc = agent("read", "lum-01", "supply_voltage", "--config", str(cfg), "--format", "json")
        old = agent("read", "lum-01", "supply_voltage", "--config", str(cfg), "--json")
    finally:
        sim.stop()
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert '"point": "supply_voltage"' in proc.stdout
    assert old.returncode == 0
    assert old.stdout.startswith('{"device": "lum-01"')
    assert old.stderr == "--json is deprecated: use --format json\n"


@pytest.mark.parametrize("command", ["buffer", "flush", "status", "read lum-01"])
def test_config_defaults_to_etc_streetgate(command: str) -> None:
    default = Path("/etc/streetgate/agent.yaml")
    if default.exists():
        pytest.skip(f"{default} exists on this machine")
    proc = agent(*command.split())
    assert proc.returncode == 2
    assert "config error" in proc.stderr
    assert str(default) in proc.stderr
    assert "Missing option" not in proc.stderr
    help_text = agent(command.split(maxsplit=1)[0], "--help").stdout
    assert "/etc/streetgate/agent.yaml" in help_text


@pytest.mark.parametrize(
    "command",
    [
        "",
        "status",
        "read",
        "buffer",
        "flush",
        "check-config",
        "run",
        "scan",
        "scan modbus",
        "scan opcua",
        "keygen",
        "lighting",
        "lighting commission",
    ],
)
def test_every_help_renders(command: str) -> None:
    proc = agent(*command.split(), "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "Usage: edge-agent" in proc.stdout or "usage: edge-agent" in proc.stdout
