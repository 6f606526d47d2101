"""Agent faults: kill -9 while publishing, a clock that steps back."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.faults import scenarios

pytestmark = pytest.mark.faults


def test_agent_sigkilled_while_publishing_loses_at_most_the_poll_in_progress(tmp_path: Path) -> None:
    o = scenarios.agent_killed_repeatedly(tmp_path)
    assert o.missing == 0


def test_gateway_clock_steps_back_an_hour(tmp_path: Path) -> None:
    scenarios.clock_steps_back(tmp_path)
