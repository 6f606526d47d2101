"""The suite can see a loss: a collector that confirms before its commit loses data when it dies."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.faults import scenarios
from harness.faults.stack import assert_exactly_once

pytestmark = pytest.mark.faults


def test_a_collector_confirming_before_its_commit_shows_loss(tmp_path: Path) -> None:
    o = scenarios.negative_control(tmp_path)
    assert o.missing > 0, f"the suite did not see the loss it was built to see: {o}"
    assert o.dropped_counted == 0  # nothing was counted: this is the silent loss the guarantee forbids
    with pytest.raises(AssertionError, match="never reached the store"):
        assert_exactly_once(o)
