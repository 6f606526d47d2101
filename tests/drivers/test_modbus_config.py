"""drivers.modbus.config: what a point spec accepts, for enumerations and booleans (bit fields)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from drivers.errors import PointError
from drivers.modbus.config import ModbusPointSpec, Table, resolve_points

STATE = "{name: state, table: input, register: 0, enum: {2: down, 0: unknown, 1: up}}"


def spec(text: str) -> ModbusPointSpec:
    return ModbusPointSpec.model_validate(yaml.safe_load(text))


def test_an_enum_from_yaml_resolves_to_codes_in_order() -> None:
    (p,) = resolve_points((spec(STATE),), {})
    assert p.table is Table.INPUT
    assert p.enum == ((0, "unknown"), (1, "up"), (2, "down"))
    (plain,) = resolve_points((spec("{name: level, register: 6}"),), {})
    assert plain.enum == ()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "float32", "enum": {0: "off"}}, "enum is only for integer types, not float32"),
        ({"type": "bool", "enum": {0: "off"}}, "enum is only for integer types, not bool"),
        ({"enum": {0: "off"}, "scale": 0.1}, "cannot be combined with scale or offset"),
        ({"enum": {0: "off"}, "offset": 1}, "cannot be combined with scale or offset"),
        ({"enum": {}}, "enum needs at least one code"),
        ({"enum": {0: "up", 1: "up"}}, "enum label 'up' is given to codes 0 and 1"),
        ({"enum": {0: ""}}, "at least 1 character"),
        ({"enum": {70000: "big"}}, "enum code 70000 does not fit a uint16 (0..65535)"),
        ({"type": "int16", "enum": {-32769: "low"}}, "enum code -32769 does not fit a int16"),
        ({"type": "uint32", "enum": {-1: "minus"}}, "enum code -1 does not fit a uint32"),
        ({"enum": {0: False}}, "valid string"),  # YAML reads `no` as false: refused, never "False"
        ({"table": "discrete", "type": "uint16"}, "a discrete point must have type bool"),
        ({"table": "coil", "type": "bool", "bit": 3}, "bit is only for type bool in a holding or input"),
        ({"type": "uint16", "bit": 3}, "bit is only for type bool in a holding or input"),
    ],
)
def test_bad_points_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        ModbusPointSpec.model_validate({"name": "p", "register": 0, **fields})
    assert message in str(err.value)


def test_yaml_no_is_not_a_label() -> None:
    with pytest.raises(ValidationError, match="valid string"):
        spec("{name: door, register: 0, enum: {0: no, 1: yes}}")
    assert spec("{name: door, register: 0, enum: {0: 'no', 1: 'yes'}}").enum == {0: "no", 1: "yes"}


def test_booleans_of_every_kind() -> None:
    specs = (
        spec("{name: top, table: discrete, register: 0, type: bool}"),
        spec("{name: relay, table: coil, register: 0, type: bool}"),
        spec("{name: lamp_failure, register: 5, type: bool, bit: 1}"),
        spec("{name: lamp_on, register: 5, type: bool, bit: 2}"),
    )
    points = resolve_points(specs, {})
    assert [(p.table, p.address, p.bit, p.words) for p in points] == [
        (Table.DISCRETE, 0, None, 1),
        (Table.COIL, 0, None, 1),
        (Table.HOLDING, 5, 1, 1),
        (Table.HOLDING, 5, 2, 1),
    ]


def test_bit_points_overlay_the_point_that_reads_their_register_whole() -> None:
    specs = (
        spec("{name: status, register: 5}"),
        spec("{name: lamp_failure, register: 5, type: bool, bit: 1}"),
        spec("{name: mode, register: 6, enum: {0: auto, 1: manual}}"),
        spec("{name: manual, register: 6, type: bool, bit: 0}"),
    )
    assert [(p.name, p.address, p.bit) for p in resolve_points(specs, {})] == [
        ("status", 5, None),
        ("lamp_failure", 5, 1),
        ("mode", 6, None),
        ("manual", 6, 0),
    ]


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        ("{name: a, register: 5}", "{name: b, register: 5, type: int16}", "holding 5 overlaps a"),
        ("{name: a, register: 5, type: uint32}", "{name: b, register: 6}", "holding 6 overlaps a"),
        (
            "{name: a, register: 5, type: bool, bit: 3}",
            "{name: b, register: 5, type: bool, bit: 3}",
            "overlaps a",
        ),
        ("{name: a, register: 5, type: uint32}", "{name: b, register: 6, type: bool, bit: 0}", "overlaps a"),
        ("{name: a, register: 5, type: uint32}", "{name: b, register: 5, type: bool, bit: 0}", "overlaps a"),
        ("{name: a, register: 5, table: input}", "{name: b, register: 5, type: bool, bit: 0}", None),
    ],
)
def test_genuine_overlaps_are_still_refused(first: str, second: str, reason: str | None) -> None:
    specs = (spec(first), spec(second))
    if reason is None:  # another table: no overlap at all
        assert len(resolve_points(specs, {})) == 2
        return
    with pytest.raises(PointError, match=reason):
        resolve_points(specs, {})
