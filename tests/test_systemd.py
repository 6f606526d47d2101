"""The shipped units pass ``systemd-analyze verify`` with ExecStart rendered to the installed scripts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNITS = ["edge-agent.service", "collector.service"]


@pytest.mark.parametrize("unit", UNITS)
def test_unit_verifies(unit: str, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is required (Debian package systemd)"
    text = (ROOT / "systemd" / unit).read_text()
    script = Path(sys.executable).parent / unit.removesuffix(".service")
    assert script.exists(), f"console script {script} is not installed"
    assert "/opt/streetgate/.venv/bin/" in text
    rendered = tmp_path / unit
    rendered.write_text(text.replace("/opt/streetgate/.venv/bin/", f"{script.parent}/"))
    proc = subprocess.run(
        [analyze, "verify", "--man=no", str(rendered)], capture_output=True, text=True, check=False
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "fatal" not in output.lower(), output
    assert "bad unit file setting" not in output.lower(), output
