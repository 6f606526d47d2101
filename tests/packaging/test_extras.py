"""A collector host installs the ``collector`` extra only: none of the field-bus libraries a gateway
needs, yet the contract (command signing included) imports and ``collector run`` starts against a
broker from that install alone."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.broker import Broker
from tests.collector.fake_gateway import FakeGateway
from tests.collector.harness import make_config

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_ONLY = ("pymodbus", "asyncua", "dali", "serial")


@pytest.fixture(scope="module")
def collector_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    host = tmp_path_factory.mktemp("collector-host")
    # Installed from a copy of the source: a build in the tree would leave build/lib behind, whose stale
    # modules a later build would ship.
    source = host / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "var"
        ),
    )
    venv = host / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", f"{source}[collector]"],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    return venv


@pytest.mark.timeout(900)
def test_the_collector_extra_installs_no_gateway_library(collector_venv: Path) -> None:
    code = (
        "import importlib.util, json, collector, wire, mqtt_session, wire.signing\n"
        f"print(json.dumps({{n: importlib.util.find_spec(n) is not None for n in {GATEWAY_ONLY!r}}}))\n"
        "print(collector.__file__)"
    )
    out = subprocess.run(
        [str(collector_venv / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=collector_venv,  # not the source tree: only what was installed can be imported
    )
    present, where = out.stdout.splitlines()
    assert json.loads(present) == dict.fromkeys(GATEWAY_ONLY, False)
    assert where.startswith(str(collector_venv)), where


@pytest.mark.timeout(900)
async def test_collector_run_from_the_collector_extra(
    collector_venv: Path, broker: Broker, tmp_path: Path
) -> None:
    cfg = make_config(broker.host, broker.port, tmp_path / "c.db")
    path = tmp_path / "collector.yaml"
    path.write_text(json.dumps(cfg.model_dump()))  # JSON is YAML
    async with FakeGateway(
        broker.host, broker.port, site="n", gateway="g", collector_id=cfg.collector_id
    ) as gw:
        proc = await asyncio.create_subprocess_exec(
            str(collector_venv / "bin" / "collector"),
            "run",
            "--config",
            str(path),
            cwd=tmp_path,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await gw.collector_online(timeout=30)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == 0, err.decode()
