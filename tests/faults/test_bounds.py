"""Bounds: the buffer at its cap under each ``when_full`` policy, and a disk that fills up."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.faults import scenarios
from harness.tmpfs import how_to_mount

pytestmark = pytest.mark.faults


@pytest.mark.parametrize("when_full", ["drop_oldest", "thin"])
def test_buffer_full_exactly_the_counted_readings_are_missing(tmp_path: Path, when_full: str) -> None:
    o = scenarios.buffer_full(tmp_path, when_full=when_full)
    assert o.missing > 0


def test_buffer_disk_full_polling_goes_on_and_the_drop_is_counted(tmp_path: Path) -> None:
    (tmp_path / "probe").mkdir()
    how_to_mount(tmp_path / "probe", "the agent on a full disk (a small tmpfs)")  # or skip (CI: fail)
    o = scenarios.disk_full(tmp_path)
    assert o.dropped_counted > 0
