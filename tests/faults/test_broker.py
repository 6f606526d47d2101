"""Broker faults against the real stack: every committed reading stored exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.faults import scenarios

pytestmark = pytest.mark.faults


def test_broker_stopped_then_restarted(tmp_path: Path) -> None:
    o = scenarios.broker_outage(tmp_path)
    assert o.stored > 0
    assert o.recovery_s is not None
    assert o.recovery_s < 5  # live first: the present is stored within seconds of the broker's return


def test_broker_restarted_five_times_in_a_row(tmp_path: Path) -> None:
    scenarios.broker_restarts(tmp_path)


def test_broker_restarted_without_persistence_while_the_collector_is_down(tmp_path: Path) -> None:
    scenarios.broker_restart_collector_down(tmp_path)
