"""``collector run`` as a process: clean stop on SIGTERM, the last will when killed, refusals."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.cli import app
from harness.broker import Broker
from tests.collector.fake_gateway import FakeGateway
from tests.collector.harness import make_config
from wire.status import LinkState

runner = CliRunner()


async def test_run_stops_cleanly_on_sigterm(broker: Broker, tmp_path: Path) -> None:
    cfg = make_config(broker.host, broker.port, tmp_path / "c.db")
    path = tmp_path / "collector.yaml"
    path.write_text(json.dumps(cfg.model_dump()))  # JSON is YAML
    async with FakeGateway(
        broker.host, broker.port, site="n", gateway="g", collector_id=cfg.collector_id
    ) as gw:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "collector", "run", "--config", str(path), stderr=asyncio.subprocess.PIPE
        )
        try:
            await gw.collector_online(timeout=15)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == 0, err.decode()
        status = await asyncio.wait_for(gw.statuses.get(), 5)
        assert status.state is LinkState.OFFLINE
        assert status.ts_ms is not None  # published on the way out, not the last will
    assert b"collector test-collector stopped" in err
    assert (tmp_path / "c.db").exists()


async def test_run_killed_leaves_the_offline_will(broker: Broker, tmp_path: Path) -> None:
    cfg = make_config(broker.host, broker.port, tmp_path / "c.db")
    path = tmp_path / "collector.yaml"
    path.write_text(json.dumps(cfg.model_dump()))
    async with FakeGateway(
        broker.host, broker.port, site="n", gateway="g", collector_id=cfg.collector_id
    ) as gw:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "collector", "run", "--config", str(path), stderr=asyncio.subprocess.DEVNULL
        )
        try:
            await gw.collector_online(timeout=15)
        finally:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 15)
        status = await asyncio.wait_for(gw.statuses.get(), 5)
        assert (status.state, status.ts_ms) == (LinkState.OFFLINE, None)  # the last will


@pytest.fixture
def root_logging() -> Iterator[None]:
    """``collector run`` configures logging; put the root logger back as it was."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("root_logging")
def test_run_refuses_a_store_that_is_not_built_yet(tmp_path: Path) -> None:
    cfg = tmp_path / "collector.yaml"
    cfg.write_text("broker: {host: 127.0.0.1}\nstore: {url: 'postgresql://c@db/streetgate'}\n")
    for argv in (["check-config", str(cfg)], ["run", "--config", str(cfg)]):  # both refuse, alike
        r = runner.invoke(app, argv)
        assert r.exit_code == 2, argv
        assert f"{cfg}: store.url: the postgresql sink is not built yet" in r.stderr, argv
