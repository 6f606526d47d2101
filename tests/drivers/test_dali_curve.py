"""simulators.luminaire.curve: the logarithmic curve against Beckhoff's table (devices.md §1.4)."""

from __future__ import annotations

import itertools

import pytest

from simulators.luminaire.curve import MAX_ARC, arc_to_percent, percent_to_arc


@pytest.mark.parametrize(
    ("arc", "percent"), [(1, 0.100), (85, 0.991), (128, 3.206), (200, 22.892), (254, 100.0)]
)
def test_beckhoff_table(arc: int, percent: float) -> None:
    assert round(arc_to_percent(arc), 3) == percent


def test_off_is_zero_both_ways() -> None:
    assert arc_to_percent(0) == 0.0
    assert percent_to_arc(0) == 0


def test_half_the_light_is_arc_229_not_127() -> None:
    assert percent_to_arc(50) == 229
    assert arc_to_percent(127) < 3.2


def test_every_arc_level_survives_a_round_trip() -> None:
    assert [percent_to_arc(arc_to_percent(n)) for n in range(MAX_ARC + 1)] == list(range(MAX_ARC + 1))


def test_the_curve_rises_steadily() -> None:
    levels = [arc_to_percent(n) for n in range(MAX_ARC + 1)]
    assert all(a < b for a, b in itertools.pairwise(levels))
    # logarithmic: every step is the same ratio, about 2.8 %
    ratios = {round(b / a, 6) for a, b in itertools.pairwise(levels[1:])}
    assert len(ratios) == 1
    assert ratios.pop() == pytest.approx(1.0277, abs=1e-4)


def test_any_light_is_at_least_arc_1() -> None:
    assert percent_to_arc(0.0001) == 1
    assert percent_to_arc(100) == MAX_ARC


@pytest.mark.parametrize("arc", [-1, 255])
def test_arc_out_of_range(arc: int) -> None:
    with pytest.raises(ValueError, match="arc level"):
        arc_to_percent(arc)


@pytest.mark.parametrize("percent", [-0.1, 100.1])
def test_percent_out_of_range(percent: float) -> None:
    with pytest.raises(ValueError, match="percent"):
        percent_to_arc(percent)
