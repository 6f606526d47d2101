from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from edge_agent.poll.report import ReportFilter, ReportSpec
from wire.points import Quality, Reading

T = 1_767_225_600_000


def r(point: str, value: float | bool | str | None, quality: Quality = Quality.GOOD) -> Reading:
    return Reading("lum-00", point, T, value, quality)


def test_absolute_deadband_and_heartbeat() -> None:
    f = ReportFilter({("lum-00", "power"): ReportSpec(deadband=0.5, max_interval_s=60)})
    sent = [
        f.admit(r("power", v), now)
        for v, now in [(40.0, 0), (40.3, 1), (40.6, 2), (40.9, 3), (41.2, 4), (41.2, 30), (41.2, 64)]
    ]
    assert sent == [True, False, True, False, True, False, True]
    assert f.suppressed == 3


def test_percent_deadband() -> None:
    f = ReportFilter({("lum-00", "energy"): ReportSpec(deadband_percent=1)})
    assert [f.admit(r("energy", v), i) for i, v in enumerate([1000, 1009, 1011, 1020, 1022])] == [
        True,
        False,
        True,
        False,
        True,
    ]


def test_states_alarms_and_quality_always_go_out() -> None:
    f = ReportFilter(
        {("lum-00", "online"): ReportSpec(max_interval_s=600), ("lum-00", "power"): ReportSpec(deadband=100)}
    )
    assert f.admit(r("online", True), 0)
    assert not f.admit(r("online", True), 1)
    assert f.admit(r("online", False), 2)  # a state change, however small the "deadband"
    assert f.admit(r("power", 40.0), 0)
    assert f.admit(r("power", None, Quality.OFFLINE), 1)  # quality changed
    assert f.admit(r("power", 40.0), 2)


def test_points_without_spec_are_never_suppressed() -> None:
    f = ReportFilter({})
    assert all(f.admit(r("power", 1.0), i) for i in range(5))
    assert f.suppressed == 0


def test_both_deadbands_refused() -> None:
    with pytest.raises(ValidationError, match="not both"):
        ReportSpec(deadband=1, deadband_percent=1)


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=60))
def test_reported_series_tracks_within_deadband(values: list[float]) -> None:
    """Whatever the series, every value not sent is within the deadband of the last one sent."""
    f = ReportFilter({("lum-00", "power"): ReportSpec(deadband=0.5, max_interval_s=86400)})
    last_sent = None
    sent = 0
    for i, v in enumerate(values):
        if f.admit(r("power", v), i):
            last_sent = v
            sent += 1
        else:
            assert last_sent is not None
            assert abs(v - last_sent) <= 0.5
    assert sent + f.suppressed == len(values)  # every reading either sent or counted
