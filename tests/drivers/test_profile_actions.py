"""Actions and interlocks declared in profiles (``drivers/profiles/actions.py``): the shipped profiles load
with them through the agent's config and a device resolves its own (addresses, per-device bounds); a
malformed declaration is refused naming the profile file, the action and the field."""

from __future__ import annotations

import copy
import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from drivers.modbus.config import ModbusDevice
from drivers.opcua.config import OpcUaDevice
from drivers.profiles import expr
from drivers.profiles.actions import ArgType
from drivers.profiles.device_actions import DeviceActions, ResolvedWrite, resolve_actions
from drivers.profiles.model import parse_profile
from edge_agent.commands.interlocks import Context, check
from edge_agent.config.load import load_config
from edge_agent.config.problems import ConfigError
from simulators.bollard.codes import Logic
from simulators.bollard.register_map import BollardMap
from simulators.bollard.site import BollardSite
from simulators.luminaire.gateway import DaliGateway
from simulators.luminaire.model import Luminaire
from simulators.traffic.controller import TrafficController
from simulators.traffic.methods import Methods
from tests.drivers.conftest import PROFILES, SteppedClock
from wire.errors import InterlockRefusal
from wire.points import Value

AGENT = """
gateway: cab-1
site: test
profile_paths: [{profiles}]
buses:
  - name: dali-gw
    kind: modbus_tcp
    host: 127.0.0.1
    devices:
      - {{name: lum-07, profile: dali-gw-luminaire, params: {{c: 1, sa: 7, min_level: 10, night_floor: 30}}}}
      - {{name: lum-08, profile: dali-gw-luminaire, params: {{c: 0, sa: 8}}}}
  - name: access
    kind: modbus_tcp
    host: 127.0.0.2
    devices:
      - {{name: site-7, profile: bollard-site, unit: 1}}
  - name: tlc-bus
    kind: opcua
    endpoint: opc.tcp://127.0.0.1:4840/
    devices:
      - name: tlc-7
        profile: traffic-controller
        params: {{id: 7, signal_groups: 5, detectors: 4}}
"""


def load(tmp_path: Path, profiles: Path = PROFILES) -> dict[str, ModbusDevice | OpcUaDevice]:
    path = tmp_path / "agent.yaml"
    path.write_text(AGENT.format(profiles=profiles))
    cfg = load_config(path)
    return {d.name: d for d in cfg.devices if isinstance(d, ModbusDevice | OpcUaDevice)}


def actions_of(device: ModbusDevice | OpcUaDevice) -> DeviceActions:
    assert device.actions is not None, device.name
    return device.actions


def test_the_shipped_profiles_load_with_their_actions(tmp_path: Path) -> None:
    devices = load(tmp_path)
    assert list(actions_of(devices["lum-07"]).actions) == ["set_level", "off", "recall_max", "recall_min"]
    assert list(actions_of(devices["site-7"]).actions) == [
        "lower",
        "raise",
        "hold_down",
        "release_hold",
        "emergency_lower",
        "reset_fault",
    ]
    tlc = actions_of(devices["tlc-7"])
    assert list(tlc.actions) == ["set_time_plan", "set_functional_position", "request_bus_priority"]
    assert tlc.methods["set_functional_position"] == "SetFunctionalPosition"


def test_a_luminaire_resolves_its_setpoint_register_and_bounds_from_its_params(tmp_path: Path) -> None:
    devices = load(tmp_path)
    lum7, lum8 = actions_of(devices["lum-07"]), actions_of(devices["lum-08"])
    assert lum7.writes["set_level"] == (ResolvedWrite(7000 + 700 + 15, ("level",)),)
    assert lum8.writes["set_level"] == (ResolvedWrite(800 + 15, ("level",)),)
    # the device's own params over the profile's defaults
    assert lum7.number("min_level") == 10
    assert lum8.number("min_level") == 0
    assert lum7.number("night_floor") == 30
    assert lum8.number("night_floor") == 20
    assert lum7.actions["set_level"].max_ttl_s >= 60  # a luminaire's command lives minutes


def test_the_bollard_mailbox_is_one_write_with_the_sequence_number(tmp_path: Path) -> None:
    site = actions_of(load(tmp_path)["site-7"])
    codes = {}
    for name, writes in site.writes.items():
        (w,) = writes  # one FC16: command, duration and sequence number arrive together
        assert (w.address, len(w.values), w.values[2]) == (100, 3, "sequence"), name
        codes[name] = w.values[0]
    assert codes == {
        "lower": 1,
        "raise": 2,
        "hold_down": 3,
        "release_hold": 4,
        "emergency_lower": 5,
        "reset_fault": 6,
    }
    assert site.writes["hold_down"][0].values[1] == "seconds"
    for action in site.actions.values():
        assert action.max_ttl_s <= 60, action.name  # a bollard's command lives seconds
        assert action.read_back is not None
        assert [e.point for e in action.read_back.expect][:2] == ["last_processed_sequence", "command_result"]
    raise_ = site.actions["raise"]
    assert raise_.arg("ack_inversions") is not None
    assert "inversion_limit" in raise_.interlocks
    assert "loops_clear" in raise_.interlocks
    assert site.actions["emergency_lower"].emergency
    assert not site.actions["emergency_lower"].interlocks


def test_the_traffic_controller_only_requests_and_takes_its_code_from_config(tmp_path: Path) -> None:
    tlc = actions_of(load(tmp_path)["tlc-7"])
    position = tlc.actions["set_functional_position"]
    arg = position.arg("position")
    assert arg is not None
    assert arg.type is ArgType.ENUM
    assert arg.values is not None
    assert "dark" not in arg.values
    assert set(arg.values) == {"normal_control", "yellow_flash"}
    timeout = position.arg("timeout_min")
    assert timeout is not None
    assert timeout.required
    assert (timeout.min, timeout.max) == (1, 1440)
    for action in tlc.actions.values():
        assert action.call is not None
        assert not action.write
        assert "SignalGroups" not in action.call.method
        assert action.arg("security_code") is None  # never from the command
    for name in ("set_time_plan", "set_functional_position"):
        call = tlc.actions[name].call
        assert call is not None
        assert call.args["SecurityCode"].secret == "security_code"
    prio = tlc.actions["request_bus_priority"]
    kind = prio.arg("type")
    assert kind is not None
    assert kind.values == {"new": 0, "update": 1, "cancel": 2}


# --- malformed declarations --------------------------------------------------------------------------


def bollard() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PROFILES / "bollard-site.yaml").read_text())
    return data


def refused(tmp_path: Path, data: dict[str, Any]) -> str:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    for p in PROFILES.glob("*.yaml"):
        (profiles / p.name).write_text(p.read_text())
    (profiles / "bollard-site.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError) as info:
        load(tmp_path, profiles)
    return str(info.value)


def edit(change: str) -> dict[str, Any]:
    data = copy.deepcopy(bollard())
    actions = {a["name"]: a for a in data["actions"]}
    match change:
        case "bounds":
            actions["hold_down"]["args"][0]["min"] = 10
            actions["hold_down"]["args"][0]["max"] = 5
        case "unknown field":
            actions["raise"]["retries"] = 3
        case "unknown interlock":
            actions["raise"]["interlocks"].append("moon_phase")
        case "duplicate action":
            data["actions"].append(copy.deepcopy(actions["lower"]))
        case "duplicate interlock":
            data["interlocks"].append(copy.deepcopy(data["interlocks"][0]))
        case "unknown name in a value":
            actions["hold_down"]["write"][0]["values"][1] = "minutes"
        case "unknown read-back point":
            actions["lower"]["read_back"]["expect"][2]["point"] = "position"
        case "emergency with an interlock":
            actions["emergency_lower"]["interlocks"] = ["loops_clear"]
        case "unknown interlock point":
            data["interlocks"][0]["refuse_if"]["loop_9_occupied"] = True
        case "ttl":
            actions["lower"]["max_ttl_s"] = 0
        case "call on modbus":
            actions["lower"]["call"] = {"method": "Lower"}
            del actions["lower"]["write"]
        case "arg named sequence":
            actions["hold_down"]["args"].append({"name": "sequence", "type": "int"})
    return data


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("bounds", "actions[2] (hold_down).args[0]: arg 'seconds': min 10.0 is above max 5.0"),
        ("unknown field", "actions[1] (raise).retries: Extra inputs are not permitted"),
        ("unknown interlock", "actions (raise).interlocks[6]: 'moon_phase' is not declared in interlocks"),
        ("duplicate action", "actions: 'lower' declared twice"),
        ("duplicate interlock", "interlocks: 'loops_clear' declared twice"),
        ("unknown name in a value", "actions (hold_down).write[0].values[1]: 'minutes' is not"),
        ("unknown read-back point", "actions (lower).read_back.expect[2].point: 'position' is not a point"),
        ("emergency with an interlock", "actions[4] (emergency_lower): action 'emergency_lower'"),
        ("unknown interlock point", "interlocks (loops_clear).refuse_if: 'loop_9_occupied' is not a point"),
        ("ttl", "actions[0] (lower).max_ttl_s: Input should be greater than 0"),
        ("call on modbus", "actions (lower).call: a Modbus profile acts by write"),
        ("arg named sequence", "actions[2] (hold_down): action 'hold_down': 'sequence'"),
    ],
)
def test_a_malformed_declaration_is_refused_naming_profile_action_and_field(
    tmp_path: Path, change: str, expected: str
) -> None:
    msg = refused(tmp_path, edit(change))
    assert "bollard-site.yaml" in msg, msg
    assert expected in msg, msg


def test_an_action_named_like_the_built_in_set_maintenance_is_refused(tmp_path: Path) -> None:
    data = edit("ttl")
    data["actions"][0]["max_ttl_s"] = 30
    data["actions"][0]["name"] = "set_maintenance"
    msg = refused(tmp_path, data)
    assert "actions: 'set_maintenance' is built in (the agent's maintenance mode)" in msg, msg


def test_an_interlock_of_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    data = bollard()
    data["interlocks"][0]["kind"] = "wishful"
    msg = refused(tmp_path, data)
    assert "interlocks[0] (loops_clear): Input tag 'wishful' found using 'kind' does not match" in msg, msg


def test_a_device_param_that_is_not_a_number_is_refused_for_a_bound(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    data: dict[str, Any] = yaml.safe_load((PROFILES / "traffic-controller.yaml").read_text())
    data["param_defaults"] = {"max_plan": 32}
    data["interlocks"] = [{"kind": "arg_range", "name": "known_plans", "arg": "plan", "max": "max_plan"}]
    data["actions"][0]["interlocks"] = ["known_plans"]
    for p in PROFILES.glob("*.yaml"):
        (profiles / p.name).write_text(p.read_text())
    (profiles / "traffic-controller.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    assert actions_of(load(tmp_path, profiles)["tlc-7"]).number("max_plan") == 32
    path = tmp_path / "agent.yaml"
    path.write_text(AGENT.format(profiles=profiles).replace("detectors: 4}", "detectors: 4, max_plan: many}"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "tlc-7) (profile 'traffic-controller') interlocks (known_plans): param 'max_plan'" in str(
        info.value
    )


# --- the declared writes against the simulators' register maps -----------------------------------------


def registers(actions: DeviceActions, action: str, args: dict[str, int], sequence: int) -> list[int]:
    """What the executor will write: the value expressions with the args, params and sequence number."""
    names = {**{k: v for k, v in actions.params.items() if isinstance(v, int)}, **args, "sequence": sequence}
    (w,) = actions.writes[action]
    return [expr.evaluate(v, names) for v in w.values]


def test_the_bollard_actions_drive_the_simulated_mailbox(tmp_path: Path, clock: SteppedClock) -> None:
    site = actions_of(load(tmp_path)["site-7"])
    regs = BollardMap(BollardSite(1, clock, logic=Logic.SEMI_AUTOMATIC))
    steps = [("lower", {}), ("raise", {}), ("hold_down", {"seconds": 60}), ("release_hold", {})]
    steps += [("emergency_lower", {}), ("reset_fault", {})]
    for sequence, (name, args) in enumerate(steps, start=100):
        regs.write_holding(site.writes[name][0].address, registers(site, name, args, sequence))
        spec = site.actions[name]
        assert spec.read_back is not None
        clock.advance(spec.read_back.settle_s)
        result, echo = regs.read_holding(103, 2)
        state = regs.site.reading().state.name.lower()
        seen: dict[str, object] = {"command_result": result, "last_processed_sequence": echo, "state": state}
        seen["fault_code"] = regs.site.reading().fault.name.lower()
        for e in spec.read_back.expect:
            if e.expr == "sequence":
                assert seen[e.point] == sequence, name
            elif e.point == "command_result":
                assert (e.value, result) == ("ok", 0), name
            else:
                assert seen[e.point] == e.value, (name, e.point)


def test_set_level_drives_the_simulated_gateway(tmp_path: Path, clock: SteppedClock) -> None:
    lum = actions_of(load(tmp_path)["lum-08"])  # channel 0, short address 8
    gateway = DaliGateway([Luminaire(100.0, clock, random.Random(sa)) for sa in range(9)], 0)
    spec = lum.actions["set_level"]
    assert spec.read_back is not None
    (expect,) = spec.read_back.expect
    for level in (50, 100, 1):
        (w,) = lum.writes["set_level"]
        gateway.write(w.address, registers(lum, "set_level", {"level": level}, 0))
        clock.advance(spec.read_back.settle_s)
        assert expect.point == "level"
        (actual,) = gateway.read(7000 * 0 + 100 * 8 + 6, 1)  # the profile's `level` point
        assert abs(actual - level) <= expect.tolerance, level


def test_the_readme_sample_of_actions_loads_and_checks() -> None:
    readme = Path(__file__).resolve().parents[2] / "drivers" / "profiles" / "README.md"
    block = re.findall(r"```yaml\n(.*?)```", readme.read_text(), flags=re.DOTALL)[1]
    profile = parse_profile(yaml.safe_load(block))
    actions = resolve_actions(profile.actions, profile.interlocks, profile.param_defaults, {})
    assert actions.writes["raise"] == (ResolvedWrite(100, (2, 0, "sequence")),)
    fresh: dict[str, Value] = {"loop_occupied": True}
    refusal = check(actions, "raise", {}, fresh, Context(now_ms=0, is_night=False, maintenance=False))
    assert isinstance(refusal, InterlockRefusal)
    assert refusal.interlock == "loop_clear"
    ctx = Context(now_ms=0, is_night=False, maintenance=True)
    assert check(actions, "emergency_lower", {}, fresh, ctx) is None


def test_the_traffic_actions_call_methods_the_simulator_serves_with_their_inputs(tmp_path: Path) -> None:
    tlc = actions_of(load(tmp_path)["tlc-7"])
    table = Methods(TrafficController()).table()
    served = {name: [arg for arg, _ in inputs] for name, (_, inputs, _) in table.items()}
    for name, action in tlc.actions.items():
        assert action.call is not None
        method = tlc.methods[name]
        assert method in served, name
        assert list(action.call.args) == served[method], name  # every input, in the method's order
