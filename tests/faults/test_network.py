"""A silent network partition between the gateway and the broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.faults import scenarios

pytestmark = pytest.mark.faults


def test_silent_partition_noticed_by_keepalive_and_healed(tmp_path: Path) -> None:
    scenarios.silent_partition(tmp_path)
