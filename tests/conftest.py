from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.broker import Broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path).start()
    try:
        yield b
    finally:
        b.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT] = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """A failed test can leave a worker thread behind; never let it turn a red run into a hung one."""
    import os
    import sys
    import threading

    left = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if left:
        sys.stderr.write(f"\nthreads left running after the tests: {[t.name for t in left]}; exiting\n")
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(config.stash.get(_EXIT, 1))


_EXIT = pytest.StashKey[int]()
