"""The README's first command, run unattended: the demo starts every part, data arrives, it exits 0."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
PARTS = ("agent", "collector", "sim", "bollards", "traffic", "broker")


def exit_codes(stdout: str) -> dict[str, int]:
    """The demo's ``exit codes: agent=0 collector=0 ...`` line, parsed."""
    lines = [line for line in stdout.splitlines() if line.startswith("exit codes:")]
    assert len(lines) == 1, stdout
    pairs = (item.split("=") for item in lines[0].removeprefix("exit codes:").split())
    return {name: int(rc) for name, rc in pairs}


def test_demo_runs_unattended_and_checks_its_data(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh"), "--for", "20", "--workdir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "check passed: data from every luminaire, the bollard site and the traffic controller" in out
    assert "check passed: lum-07's lamp failure was raised and cleared at the edge" in out
    codes = exit_codes(proc.stdout)
    assert codes == dict.fromkeys(PARTS, 0), out  # every part stopped, and each exited 0
    assert "stopped cleanly" in out
    assert (tmp_path / "demo" / "store.db").exists()
    saving = re.search(r"the night's saving is (\d+\.\d) %", out)
    assert saving is not None, out
    assert 50 < float(saving.group(1)) < 90, saving.group(0)  # LED and dimming against sodium dusk to dawn
