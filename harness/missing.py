"""What a test does when this machine lacks something it needs (a tmpfs, an optional library).

It skips, naming what it could not test and why — except in CI (``CI=true``), where it fails: CI must
run every test, never skip one.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def cannot_test(what: str, why: str) -> NoReturn:
    """Skip, naming what is not tested and why; in CI, fail instead."""
    message = f"NOT TESTED: {what} ({why})"
    if in_ci():
        pytest.fail(f"{message}; CI (CI=true) must run it", pytrace=False)
    pytest.skip(message)
