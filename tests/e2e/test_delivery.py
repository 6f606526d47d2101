"""The real stack end to end: every reading the agent committed is in the store exactly once.

Processes: luminaire simulator (Modbus TCP), Mosquitto (no persistence), collector, edge agent. The
final comparison stops the agent, delivers what its buffer still holds with ``edge-agent flush``, then
compares the agent's persistent count of committed readings with the store: equal, and no reading
(device, point, timestamp) stored twice.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from demo.stack import Stack

pytestmark = pytest.mark.e2e


def wait(cond: Callable[[], bool], timeout: float, what: str, stack: Stack) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{stack.logs()}")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path, luminaires=5, poll_interval_s=0.5, confirm_timeout_s=2.0)
    s.start()
    try:
        yield s
    finally:
        s.stop()


def assert_exactly_once(stack: Stack) -> int:
    assert stack.agent is not None
    assert stack.agent.stop() == 0, stack.logs()
    flushed = stack.flush(timeout=60)
    assert flushed.returncode == 0, flushed.stdout + flushed.stderr + stack.logs()
    committed = stack.committed()
    stored = stack.stored()
    dupes = [k for k, n in collections.Counter(stored).items() if n > 1]
    assert not dupes, f"{len(dupes)} readings stored twice, e.g. {dupes[:3]}"
    assert len(stored) == committed, f"agent committed {committed}, store holds {len(stored)}"
    return committed


def test_broker_restart_while_collector_down(stack: Stack) -> None:
    assert stack.broker is not None
    assert stack.collector is not None
    wait(lambda: len(stack.stored()) > 200, 30, "first readings in the store", stack)
    stack.collector.stop()
    time.sleep(3)  # batches go to the broker, queued for the collector's persistent session
    stack.broker.restart()  # default configuration: the queued batches are gone
    time.sleep(2)
    before = len(stack.stored())
    stack.collector.start()
    wait(lambda: len(stack.stored()) > before + 200, 30, "ingest after the broker restart", stack)
    committed = assert_exactly_once(stack)
    assert committed > 600


def test_agent_restarts_mid_run(stack: Stack) -> None:
    assert stack.agent is not None
    wait(lambda: len(stack.stored()) > 100, 30, "first readings in the store", stack)
    stack.agent.stop()  # SIGTERM: clean stop
    stack.agent.start()
    n = len(stack.stored())
    wait(lambda: len(stack.stored()) > n + 100, 30, "ingest after a clean restart", stack)
    for _ in range(2):  # kill -9: at most the poll in progress is lost, and it was never committed
        time.sleep(1.3)
        stack.agent.kill()
        stack.agent.start()
    n = len(stack.stored())
    wait(lambda: len(stack.stored()) > n + 100, 30, "ingest after kill -9", stack)
    assert_exactly_once(stack)
