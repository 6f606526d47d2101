"""The technician's commands against a running agent, a stopped one and a dead device."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.stack import BIN, Stack, wait_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path, luminaires=3, poll_interval_s=0.5)
    s.start()
    try:
        yield s
    finally:
        s.stop()


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "edge-agent"), *args, "--config", str(stack.agent_config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def wait_status(stack: Stack, code: int, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    deadline = time.monotonic() + timeout
    while True:
        proc = cli(stack, "status", "--format", "json")
        if proc.returncode == code or time.monotonic() > deadline:
            return proc
        time.sleep(0.3)


def test_status_and_read(stack: Stack) -> None:
    assert stack.sim is not None
    assert stack.agent is not None
    deadline = time.monotonic() + 20
    while True:  # until every device has been polled once (before that, "online" is unknown)
        ok = wait_status(stack, 0)
        assert ok.returncode == 0, ok.stdout + ok.stderr + stack.logs()
        st = json.loads(ok.stdout)
        if all(d["online"] is not None for d in st["devices"].values()) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert st["gateway"] == stack.gateway
    assert st["uplink"]["connected"] is True
    assert sorted(st["devices"]) == ["lum-00", "lum-01", "lum-02"]
    assert all(d["online"] for d in st["devices"].values())

    table = cli(stack, "status")
    assert table.returncode == 0
    assert "lum-01" in table.stdout
    assert "uplink  connected" in table.stdout

    read = cli(stack, "read", "lum-01")
    assert read.returncode == 0, read.stdout + read.stderr
    assert "through the running agent" in read.stdout
    assert "active_power" in read.stdout
    one = cli(stack, "read", "lum-01", "supply_voltage", "--format", "json")
    values = json.loads(one.stdout)["values"]
    assert [v["point"] for v in values] == ["supply_voltage"]
    assert 200 < values[0]["value"] < 260

    assert cli(stack, "read", "lum-99").returncode == 2
    assert cli(stack, "read", "lum-01", "nonsense").returncode == 2

    stack.sim.stop()  # every device goes quiet
    deadline = time.monotonic() + 20
    while True:
        degraded = wait_status(stack, 3)
        assert degraded.returncode == 3, degraded.stdout + degraded.stderr
        st = json.loads(degraded.stdout)
        if all(d["online"] is False for d in st["devices"].values()) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert all(d["online"] is False for d in st["devices"].values()), st["devices"]
    assert all(d["last_error"] for d in st["devices"].values())
    dead = cli(stack, "read", "lum-00")
    assert dead.returncode == 1

    stack.sim.start()
    wait_port(stack.sim_port)  # the simulator answers again before the direct read
    stack.agent.stop()
    none = cli(stack, "status")
    assert none.returncode == 1
    assert "no agent is running" in none.stderr
    direct = cli(stack, "read", "lum-02")
    assert direct.returncode == 0, direct.stdout + direct.stderr
    assert "directly (no agent is running)" in direct.stdout


def test_status_shows_the_bad_points_of_a_device_that_answers(stack: Stack) -> None:
    """lum-02 stays on the line but the gateway now serves two luminaires: every read of it answers
    with exception 2. The device is online, its points are bad: status says which and exits 3."""
    assert stack.sim is not None
    assert wait_status(stack, 0).returncode == 0, stack.logs()
    stack.sim.stop()
    stack.sim.argv[-1] = "2"  # --count 2
    stack.sim.start()
    deadline = time.monotonic() + 30
    while True:
        proc = cli(stack, "status", "--format", "json")
        lum2 = json.loads(proc.stdout)["devices"]["lum-02"] if proc.stdout else {}
        if (lum2.get("online") and lum2.get("bad_points")) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert proc.returncode == 3, proc.stdout + proc.stderr + stack.logs()
    assert lum2["online"] is True
    assert "modbus exception 2" in lum2["bad_points"]["active_power"]
    table = cli(stack, "status")
    assert table.returncode == 3
    assert "devices 3: 3 online (1 with bad points), 0 offline" in table.stdout
    lines = table.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("lum-02 "))
    assert lines[at + 1].split()[:3] == ["bad", "point", "active_energy:"]
    assert "lum-01" in lines[at - 1]
    assert not lines[at - 1].lstrip().startswith("bad point")  # lum-01 has none
