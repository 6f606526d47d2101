"""Counter readings to intervals: a difference, a wrap, a new gear (a drop or another serial), a jump."""

from __future__ import annotations

import pytest

from collector.reports.counters import CounterReading, Interval, Link, intervals
from collector.reports.energy import luminaire_energy

H = 3_600_000


def links(*readings: CounterReading, bits: int = 32) -> list[tuple[float | None, Link]]:
    return [(iv.wh, iv.link) for iv in intervals(readings, bits=bits, max_power_w=200.0)]


def test_a_rising_counter_is_its_differences() -> None:
    assert links(CounterReading(0, 10), CounterReading(H, 110), CounterReading(2 * H, 110)) == [
        (100.0, Link.COUNTED),
        (0.0, Link.COUNTED),
    ]


def test_a_wrap_is_told_from_a_new_gear_by_what_the_time_allows() -> None:
    top = 2**32
    assert links(CounterReading(0, top - 30), CounterReading(H, 70)) == [(100.0, Link.WRAP)]
    assert links(CounterReading(0, top - 30), CounterReading(H, 300)) == [
        (None, Link.NEW_GEAR)
    ]  # 330 Wh in 1 h
    assert links(CounterReading(0, 250), CounterReading(H, 40), bits=8) == [(46.0, Link.WRAP)]
    assert links(CounterReading(0, 5000), CounterReading(H, 40)) == [(None, Link.NEW_GEAR)]


def test_another_serial_is_a_new_gear_even_when_the_counter_rose() -> None:
    got = links(CounterReading(0, 10, "A1"), CounterReading(H, 60, "B7"), CounterReading(2 * H, 160, "B7"))
    assert got == [(None, Link.NEW_GEAR), (100.0, Link.COUNTED)]
    assert links(CounterReading(0, 10, None), CounterReading(H, 60, "B7")) == [(50.0, Link.COUNTED)]


def test_a_jump_beyond_the_power_limit_is_a_new_segment() -> None:
    assert links(CounterReading(0, 10), CounterReading(H, 900)) == [(None, Link.JUMP)]


def test_duplicates_are_dropped_and_order_restored() -> None:
    got = intervals(
        [CounterReading(H, 50), CounterReading(0, 0), CounterReading(H, 51)], bits=32, max_power_w=100
    )
    assert got == [Interval(0, H, 50.0, Link.COUNTED)]


def test_energy_never_negative_and_unknown_spans_estimated_at_the_mean_power() -> None:
    ivs = intervals(
        [
            CounterReading(0, 1000),
            CounterReading(H, 1100),
            CounterReading(2 * H, 20),
            CounterReading(3 * H, 120),
        ],
        bits=32,
        max_power_w=200,
    )
    e = luminaire_energy("cab", "lum", ivs, 0, 4 * H, gap_s=3600, baseline_wh=None)
    # counted: 100 + 100 Wh over 2 h; the new-gear hour and the hour after the last reading: 100 W each
    assert e.used_wh == pytest.approx(400.0)
    assert e.estimated_wh == pytest.approx(200.0)
    assert [f.what for f in e.flags] == ["new gear", "no readings"]


def test_a_gap_across_the_period_end_is_shared_pro_rata_and_counted_as_estimated() -> None:
    ivs = intervals([CounterReading(0, 0), CounterReading(4 * H, 400)], bits=32, max_power_w=200)
    e = luminaire_energy("cab", "lum", ivs, H, 3 * H, gap_s=3600, baseline_wh=500.0)
    assert (e.used_wh, e.estimated_wh, [f.what for f in e.flags]) == (200.0, 200.0, ["gap"])
