"""Collector faults: killed during ingest, killed between commit and confirmation, a stalled store,
several collectors sharing the load."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.faults import scenarios

pytestmark = pytest.mark.faults


def test_collector_sigkilled_during_ingest(tmp_path: Path) -> None:
    scenarios.collector_killed_during_ingest(tmp_path)


def test_collector_killed_between_commit_and_confirmation(tmp_path: Path) -> None:
    scenarios.collector_killed_between_commit_and_confirm(tmp_path)


def test_slow_store_back_pressure_without_loss(tmp_path: Path) -> None:
    scenarios.slow_store(tmp_path)


def test_collectors_on_a_shared_subscription_one_killed(tmp_path: Path) -> None:
    scenarios.shared_collectors(tmp_path)
