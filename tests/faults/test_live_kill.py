"""Kill -9 between sending a fresh batch and committing it: every reading is stored once or was never
committed (the poll in progress), and no batch key is used twice — with the key reservation off, the
same run shows a key used twice (the negative control)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.faults.scenarios.live import agent_killed_sending_live
from harness.faults.stack import assert_exactly_once

pytestmark = pytest.mark.faults


def test_agent_killed_while_sending_live_stores_once_and_reuses_no_key(tmp_path: Path) -> None:
    run = agent_killed_sending_live(tmp_path)
    assert run.conflicts == 0, f"a batch key was used twice: {run.outcome}"
    assert_exactly_once(run.outcome)


def test_without_the_key_reserve_a_restarted_agent_reuses_a_key(tmp_path: Path) -> None:
    run = agent_killed_sending_live(tmp_path, key_reserve=False)
    assert run.conflicts > 0, f"the test did not see the key re-use it was built to see: {run.outcome}"
    with pytest.raises(AssertionError):  # the re-used keys' readings were quarantined, not stored
        assert_exactly_once(run.outcome)
