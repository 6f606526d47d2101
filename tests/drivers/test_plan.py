"""drivers.modbus.plan: merging points into requests, the limits, and properties over random layouts."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.modbus.config import DataType, ModbusPoint, Table
from drivers.modbus.plan import MAX_BITS, ReadRequest, plan_reads


def pt(
    name: str, address: int, type_: DataType = DataType.UINT16, table: Table = Table.HOLDING
) -> ModbusPoint:
    if table in (Table.COIL, Table.DISCRETE):
        type_ = DataType.BOOL
    return ModbusPoint(name=name, table=table, address=address, type=type_)


def spans(plan: tuple[ReadRequest, ...]) -> list[tuple[str, int, int]]:
    return [(r.table.value, r.address, r.count) for r in plan]


def test_twenty_adjacent_points_are_one_request() -> None:
    plan = plan_reads([pt(f"p{i}", 100 + i) for i in range(20)])
    assert spans(plan) == [("holding", 100, 20)]
    assert [p.name for p in plan[0].points] == [f"p{i}" for i in range(20)]


def test_multi_register_points_count_all_their_registers() -> None:
    plan = plan_reads(
        [pt(f"p{i}", 2 * i, DataType.UINT32) for i in range(10)] + [pt("d", 20, DataType.FLOAT64)]
    )
    assert spans(plan) == [("holding", 0, 24)]


def test_points_are_planned_in_address_order_whatever_the_input_order() -> None:
    plan = plan_reads([pt("c", 12), pt("a", 10), pt("b", 11)])
    assert [p.name for p in plan[0].points] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        (16, [("holding", 0, 18)]),  # a hole of 16 registers is spanned
        (17, [("holding", 0, 1), ("holding", 18, 1)]),  # 17 is not
    ],
)
def test_a_hole_above_max_gap_splits(gap: int, expected: list[tuple[str, int, int]]) -> None:
    assert spans(plan_reads([pt("a", 0), pt("b", 1 + gap)], max_gap=16)) == expected


def test_max_gap_zero_merges_only_adjacent_points() -> None:
    plan = plan_reads([pt("a", 0), pt("b", 1), pt("c", 3)], max_gap=0)
    assert spans(plan) == [("holding", 0, 2), ("holding", 3, 1)]


def test_max_registers_is_respected() -> None:
    plan = plan_reads([pt(f"p{i}", i) for i in range(130)])
    assert spans(plan) == [("holding", 0, 125), ("holding", 125, 5)]
    assert spans(plan_reads([pt(f"p{i}", i) for i in range(30)], max_registers=10)) == [
        ("holding", 0, 10),
        ("holding", 10, 10),
        ("holding", 20, 10),
    ]


def test_a_point_is_never_cut_at_the_limit() -> None:
    points = [pt(f"p{i}", i) for i in range(124)] + [pt("wide", 124, DataType.UINT32)]
    plan = plan_reads(points)
    assert spans(plan) == [("holding", 0, 124), ("holding", 124, 2)]


def test_tables_are_never_mixed() -> None:
    plan = plan_reads([pt("h", 5), pt("i", 5, table=Table.INPUT), pt("c", 5, table=Table.COIL)])
    assert spans(plan) == [("holding", 5, 1), ("input", 5, 1), ("coil", 5, 1)]


def test_bits_are_limited_to_2000_per_request() -> None:
    plan = plan_reads([pt(f"c{i}", i, table=Table.DISCRETE) for i in range(2500)])
    assert spans(plan) == [("discrete", 0, MAX_BITS), ("discrete", MAX_BITS, 500)]


def test_bits_of_one_register_share_a_request() -> None:
    a = ModbusPoint("lamp_failure", Table.HOLDING, 5, DataType.BOOL, bit=1)
    b = ModbusPoint("lamp_on", Table.HOLDING, 5, DataType.BOOL, bit=2)
    plan = plan_reads([a, b])
    assert spans(plan) == [("holding", 5, 1)]
    assert plan[0].points == (a, b)


def test_a_luminaire_costs_three_requests(luminaire_points: Callable[[int], tuple[ModbusPoint, ...]]) -> None:
    plan = plan_reads(luminaire_points(7), max_registers=125, max_gap=16)
    assert spans(plan) == [("holding", 705, 2), ("holding", 780, 1), ("holding", 25734, 22)]
    assert sum(len(r.points) for r in plan) == 10
    assert plan[0].describe() == "holding 705+2"


@pytest.mark.parametrize(("max_registers", "max_gap"), [(0, 16), (126, 16), (125, -1)])
def test_bad_limits_are_refused(max_registers: int, max_gap: int) -> None:
    with pytest.raises(ValueError, match="max_"):
        plan_reads([pt("a", 0)], max_registers=max_registers, max_gap=max_gap)


def test_a_point_wider_than_the_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="wide: 4 registers"):
        plan_reads([pt("wide", 0, DataType.FLOAT64)], max_registers=3)


# --- properties over random layouts ------------------------------------------------------------


_REGISTER_TYPES = [t for t in DataType if t is not DataType.BOOL]
_SLOTS = st.lists(st.tuples(st.sampled_from(_REGISTER_TYPES), st.integers(0, 40) | st.just(0)), max_size=25)


@st.composite
def layouts(draw: st.DrawFn) -> list[ModbusPoint]:
    """Non-overlapping points over the four tables, with random holes between them."""
    points = []
    for table in Table:
        address = draw(st.integers(0, 100))
        for i, (type_, hole) in enumerate(draw(_SLOTS)):
            bits = table in (Table.COIL, Table.DISCRETE)
            p = ModbusPoint(f"{table.value}{i}", table, address, DataType.BOOL if bits else type_)
            points.append(p)
            address = p.end + hole
    return points


@given(layouts(), st.integers(4, 125), st.integers(0, 30))
def test_every_point_is_read_exactly_once_within_the_limits(
    points: list[ModbusPoint], max_registers: int, max_gap: int
) -> None:
    plan = plan_reads(points, max_registers=max_registers, max_gap=max_gap)
    planned = Counter(p.name for r in plan for p in r.points)
    assert planned == Counter(p.name for p in points)
    for r in plan:
        limit = MAX_BITS if r.table in (Table.COIL, Table.DISCRETE) else max_registers
        assert 1 <= r.count <= limit
        assert all(p.table is r.table and r.address <= p.address and p.end <= r.end for p in r.points)
        assert r.address == r.points[0].address  # no wasted register at either edge
        assert r.end == max(p.end for p in r.points)
        for a, b in itertools.pairwise(r.points):
            assert a.address <= b.address
            assert b.address - a.end <= max_gap
    for r, s in itertools.pairwise(plan):
        if r.table is s.table:  # greedy: the next request could not have been merged
            limit = MAX_BITS if r.table in (Table.COIL, Table.DISCRETE) else max_registers
            assert r.end <= s.address
            assert s.address - r.end > max_gap or s.points[0].end - r.address > limit


@given(layouts())
def test_the_plan_does_not_depend_on_the_point_order(points: list[ModbusPoint]) -> None:
    assert plan_reads(points) == plan_reads(list(reversed(points)))
