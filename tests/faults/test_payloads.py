"""Malformed and oversized payloads on the telemetry topics."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.faults import scenarios

pytestmark = pytest.mark.faults


def test_malformed_and_oversized_payloads_are_quarantined_and_ingest_goes_on(tmp_path: Path) -> None:
    scenarios.malformed_payloads(tmp_path)
