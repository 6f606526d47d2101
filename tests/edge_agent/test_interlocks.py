"""The interlocks (edge_agent/commands/interlocks.py) over the shipped profiles' declarations: each one
refusing with its name on a fresh read, the night floor, maintenance mode, emergency lowering, and
argument validation naming the argument."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from drivers.profiles.device_actions import DeviceActions, resolve_actions
from drivers.profiles.model import parse_profile
from edge_agent.commands.interlocks import Context, check, with_defaults
from wire.commands import Command
from wire.errors import BadArgument, InterlockRefusal, Refusal, TtlTooLong, UnknownAction
from wire.gate import check_command
from wire.points import Value

PROFILES = Path(__file__).resolve().parents[2] / "configs" / "profiles"
NOW = 1_780_000_000_000
DAY = Context(now_ms=NOW, is_night=False, maintenance=False)
NIGHT = Context(now_ms=NOW, is_night=True, maintenance=False)
MAINTENANCE = Context(now_ms=NOW, is_night=False, maintenance=True)


def device(profile: str, **params: int | str) -> DeviceActions:
    p = parse_profile(yaml.safe_load((PROFILES / f"{profile}.yaml").read_text()))
    return resolve_actions(p.actions, p.interlocks, p.param_defaults, params)


BOLLARD = device("bollard-site")
CLEAR: dict[str, Value] = {
    "state": "down",
    "fault_code": "none",
    "loop_1_occupied": False,
    "loop_2_occupied": False,
    "pressure_switch": False,
    "door_open": False,
    "manual_release": False,
    "emergency_lowering": False,
}


def refused_by(refusal: Refusal | None) -> str:
    assert isinstance(refusal, InterlockRefusal), refusal
    assert str(refusal).startswith(f"interlock {refusal.interlock!r}: ")
    return refusal.interlock


def bad_arg(refusal: Refusal | None) -> str:
    assert isinstance(refusal, BadArgument), refusal
    assert str(refusal).startswith(f"argument {refusal.arg!r}: ")
    return refusal.arg


def test_raise_passes_when_every_input_is_clear() -> None:
    assert check(BOLLARD, "raise", {}, CLEAR, DAY) is None


@pytest.mark.parametrize(
    ("point", "value", "interlock"),
    [
        ("loop_1_occupied", True, "loops_clear"),
        ("loop_2_occupied", True, "loops_clear"),
        ("pressure_switch", True, "pressure_switch_clear"),
        ("door_open", True, "door_closed"),
        ("manual_release", True, "no_manual_release"),
        ("emergency_lowering", True, "no_emergency"),
        ("state", "emergency_down", "no_emergency"),
        ("fault_code", "inversion_limit", "inversion_limit"),
    ],
)
def test_the_bollard_never_rises_into_a_tripped_input(point: str, value: Value, interlock: str) -> None:
    fresh = {**CLEAR, point: value}
    refusal = check(BOLLARD, "raise", {}, fresh, DAY)
    assert refused_by(refusal) == interlock
    assert point in str(refusal)


def test_an_input_that_was_not_read_refuses_the_rise() -> None:
    for missing in ("loop_2_occupied", "pressure_switch"):
        fresh = {k: v for k, v in CLEAR.items() if k != missing}
        assert missing in str(check(BOLLARD, "raise", {}, fresh, DAY))
    bad_reading = {**CLEAR, "door_open": None}  # a point read with quality BAD
    assert refused_by(check(BOLLARD, "raise", {}, bad_reading, DAY)) == "door_closed"


def test_an_integer_is_not_a_boolean_state() -> None:
    # a profile's `loop_1_occupied: true` is not met by a code 1 (and a label is not a code)
    assert check(BOLLARD, "raise", {}, {**CLEAR, "loop_1_occupied": 1}, DAY) is None


def test_raise_after_the_inversion_limit_needs_ack_inversions() -> None:
    fresh = {**CLEAR, "fault_code": "inversion_limit"}
    refusal = check(BOLLARD, "raise", {}, fresh, DAY)
    assert refused_by(refusal) == "inversion_limit"
    assert "ack_inversions: true" in str(refusal)
    assert refused_by(check(BOLLARD, "raise", {"ack_inversions": False}, fresh, DAY)) == "inversion_limit"
    assert check(BOLLARD, "raise", {"ack_inversions": True}, fresh, DAY) is None
    # the acknowledgement acknowledges inversions, nothing else
    occupied = {**fresh, "loop_1_occupied": True}
    assert refused_by(check(BOLLARD, "raise", {"ack_inversions": True}, occupied, DAY)) == "loops_clear"


def test_lowering_is_the_safe_direction() -> None:
    occupied = {**CLEAR, "loop_1_occupied": True, "pressure_switch": True, "door_open": True}
    assert check(BOLLARD, "lower", {}, occupied, DAY) is None
    assert check(BOLLARD, "hold_down", {"seconds": 600}, occupied, DAY) is None
    assert refused_by(check(BOLLARD, "release_hold", {}, occupied, DAY)) == "loops_clear"  # it may rise


def test_emergency_lower_passes_every_interlock_and_maintenance() -> None:
    everything: dict[str, Value] = {
        **{k: True for k, v in CLEAR.items() if isinstance(v, bool)},
        "state": "emergency_down",
        "fault_code": "inversion_limit",
    }
    for fresh in (everything, {}):  # tripped, or not read at all
        for ctx in (DAY, NIGHT, MAINTENANCE):
            assert check(BOLLARD, "emergency_lower", {}, fresh, ctx) is None
    # the same read refuses a rise: the pass above is the emergency flag's doing
    assert check(BOLLARD, "raise", {}, everything, DAY) is not None


@pytest.mark.parametrize(
    ("profile", "params", "action", "args"),
    [
        ("bollard-site", {}, "lower", {}),
        ("bollard-site", {}, "raise", {}),
        ("bollard-site", {}, "hold_down", {"seconds": 60}),
        ("bollard-site", {}, "release_hold", {}),
        ("bollard-site", {}, "reset_fault", {}),
        ("dali-gw-luminaire", {"c": 0, "sa": 1}, "set_level", {"level": 80}),
        ("dali-gw-luminaire", {"c": 0, "sa": 1}, "off", {}),
        ("dali-gw-luminaire", {"c": 0, "sa": 1}, "recall_max", {}),
        ("traffic-controller", {"id": 1}, "set_time_plan", {"plan": 3}),
        (
            "traffic-controller",
            {"id": 1},
            "set_functional_position",
            {"position": "normal_control", "timeout_min": 5},
        ),
    ],
)
def test_maintenance_mode_refuses_everything_but_an_emergency(
    profile: str, params: Mapping[str, int], action: str, args: Mapping[str, Value]
) -> None:
    dev = device(profile, **params)
    assert check(dev, action, args, CLEAR, DAY) is None  # allowed out of maintenance
    assert refused_by(check(dev, action, args, CLEAR, MAINTENANCE)) == "maintenance_mode"


# --- luminaire: per-device bounds and the night floor --------------------------------------------------


def test_levels_stay_within_the_devices_bounds() -> None:
    lum = device("dali-gw-luminaire", c=0, sa=3, min_level=10, max_level=80)
    assert check(lum, "set_level", {"level": 10}, {}, DAY) is None
    assert check(lum, "set_level", {"level": 80}, {}, DAY) is None
    low = check(lum, "set_level", {"level": 9}, {}, DAY)
    assert refused_by(low) == "level_bounds"
    assert "minimum 10" in str(low)
    high = check(lum, "set_level", {"level": 81}, {}, DAY)
    assert refused_by(high) == "level_bounds"
    assert "maximum 80" in str(high)
    # the profile's defaults (0..100) for a device that sets none
    assert check(device("dali-gw-luminaire", c=0, sa=4), "set_level", {"level": 1}, {}, DAY) is None


def test_below_the_night_floor_needs_below_floor_at_night_only() -> None:
    lum = device("dali-gw-luminaire", c=0, sa=3, night_floor=30)
    dim = {"level": 20}
    refusal = check(lum, "set_level", dim, {}, NIGHT)
    assert refused_by(refusal) == "night_floor"
    assert "floor 30" in str(refusal)
    assert refused_by(check(lum, "set_level", {**dim, "below_floor": False}, {}, NIGHT)) == "night_floor"
    assert check(lum, "set_level", {**dim, "below_floor": True}, {}, NIGHT) is None
    assert check(lum, "set_level", dim, {}, DAY) is None
    assert check(lum, "set_level", {"level": 30}, {}, NIGHT) is None  # at the floor is not below it


def test_off_and_recall_min_at_night_are_below_the_floor_too() -> None:
    lum = device("dali-gw-luminaire", c=0, sa=3, min_level=5)
    assert refused_by(check(lum, "off", {}, {}, NIGHT)) == "night_floor_off"
    assert check(lum, "off", {"below_floor": True}, {}, NIGHT) is None
    assert check(lum, "off", {}, {}, DAY) is None
    assert refused_by(check(lum, "recall_min", {}, {}, NIGHT)) == "night_floor_min"
    high_min = device("dali-gw-luminaire", c=0, sa=3, min_level=25)  # above the default floor of 20
    assert check(high_min, "recall_min", {}, {}, NIGHT) is None
    assert check(lum, "recall_max", {}, {}, NIGHT) is None


# --- arguments ---------------------------------------------------------------------------------------

TLC = device("traffic-controller", id=7)
LUM = device("dali-gw-luminaire", c=0, sa=1)
PRIO: dict[str, Value] = {
    "type": "new",
    "request_id": "bus-42",
    "signal_group": 3,
    "eta_s": 20,
    "vehicle_type": "bus",
}


@pytest.mark.parametrize(
    ("dev", "action", "args", "arg"),
    [
        (LUM, "set_level", {"level": 101}, "level"),
        (LUM, "set_level", {"level": -1}, "level"),
        (LUM, "set_level", {"level": 50.5}, "level"),  # an int arg
        (LUM, "set_level", {"level": True}, "level"),  # a bool is no level
        (LUM, "set_level", {}, "level"),  # required
        (LUM, "set_level", {"level": 50, "fade_s": 3}, "fade_s"),  # unknown
        (LUM, "set_level", {"level": 50, "below_floor": "yes"}, "below_floor"),
        (BOLLARD, "hold_down", {"seconds": 65536}, "seconds"),
        (BOLLARD, "raise", {"sequence": 7}, "sequence"),  # the executor's, never the command's
        (TLC, "set_functional_position", {"position": "dark", "timeout_min": 10}, "position"),
        (TLC, "set_functional_position", {"position": "yellow_flash", "timeout_min": 0}, "timeout_min"),
        (TLC, "set_functional_position", {"position": "yellow_flash", "timeout_min": 1441}, "timeout_min"),
        (TLC, "set_functional_position", {"position": "yellow_flash"}, "timeout_min"),
        (TLC, "set_time_plan", {"plan": 256}, "plan"),
        (TLC, "set_time_plan", {"plan": 3, "security_code": "1234"}, "security_code"),
        (TLC, "request_bus_priority", {**PRIO, "eta_s": 300}, "eta_s"),
        (TLC, "request_bus_priority", {**PRIO, "vehicle_type": "limousine"}, "vehicle_type"),
        (TLC, "request_bus_priority", {**PRIO, "request_id": "x" * 65}, "request_id"),
        (TLC, "request_bus_priority", {**PRIO, "level": 15}, "level"),
    ],
)
def test_arguments_out_of_their_declaration_are_refused_naming_the_arg(
    dev: DeviceActions, action: str, args: Mapping[str, Value], arg: str
) -> None:
    assert bad_arg(check(dev, action, args, CLEAR, DAY)) == arg


def test_arguments_within_their_declaration_pass() -> None:
    assert check(TLC, "request_bus_priority", PRIO, {}, DAY) is None
    assert (
        check(TLC, "set_functional_position", {"position": "yellow_flash", "timeout_min": 1440}, {}, DAY)
        is None
    )
    assert with_defaults(TLC.actions["request_bus_priority"], PRIO)["level"] == 7


def test_an_emergency_command_with_a_malformed_argument_is_still_refused() -> None:
    assert bad_arg(check(BOLLARD, "emergency_lower", {"now": True}, {}, MAINTENANCE)) == "now"


def test_an_action_the_device_does_not_declare_is_refused() -> None:
    refusal = check(LUM, "raise", {}, {}, DAY)
    assert isinstance(refusal, UnknownAction)
    assert "set_level" in str(refusal)


def test_the_gate_takes_the_actions_max_ttl() -> None:
    spec = BOLLARD.actions["raise"]
    cmd = Command(
        id=uuid.uuid4(),
        gateway="cab-1",
        device="site-7",
        action="raise",
        args={},
        issued_at_ms=NOW,
        expires_at_ms=NOW + 60_000,
        issuer="ops",
        key_id="centre-1",
    )
    with pytest.raises(TtlTooLong):
        check_command(cmd, gateway="cab-1", now_ms=NOW, skew_ms=0, max_ttl_ms=spec.ttl_ms)
    lum = LUM.actions["set_level"]
    check_command(cmd, gateway="cab-1", now_ms=NOW, skew_ms=0, max_ttl_ms=lum.ttl_ms)
