"""The gear commands of the DALI serial driver against the simulated Lunatone interface over a real
pseudo-terminal (``call``: DAPC through the dimming curve, OFF, RECALL MAX/MIN LEVEL, each read back by
QUERY ACTUAL LEVEL), calls refused before the line, and the DALI profile that declares them."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from drivers.dali.client import DaliSerialDriver
from drivers.dali.config import DaliDeviceSpec, DaliSerialLink, GearCommand, Quantity, resolve_devices
from drivers.dali.curve import arc_to_percent, percent_to_arc
from drivers.errors import CallError
from drivers.profiles.model import DaliProfile, parse_profile
from drivers.scheduler import Priority
from simulators.dali.lunatone import DaliSerialSim
from tests.drivers.conftest import PROFILES, SteppedClock


@pytest.fixture
async def sim(clock: SteppedClock) -> AsyncIterator[DaliSerialSim]:
    async with DaliSerialSim(count=2, now=clock) as s:
        yield s


@pytest.fixture
async def drv(sim: DaliSerialSim) -> AsyncIterator[DaliSerialDriver]:
    link = DaliSerialLink.model_validate({"kind": "dali_serial", "port": sim.path})
    spec = DaliDeviceSpec(
        name="lum-{sa}", repeat={"sa": (0, 1)}, short_address="sa", points=(Quantity.STATUS, Quantity.LEVEL)
    )
    d = DaliSerialDriver("line", link, resolve_devices((spec,)))
    yield d
    await d.aclose()


async def level(drv: DaliSerialDriver, device: str) -> float:
    got = {v.point: v.value for v in await drv.read(device, priority=Priority.COMMAND)}
    value = got["level"]
    assert isinstance(value, float)
    return value


async def test_each_gear_command_reaches_the_gear_and_reads_back(
    sim: DaliSerialSim, drv: DaliSerialDriver
) -> None:
    gear = sim.gear(1).luminaire
    settings = gear.settings
    assert await drv.call("lum-1", "DAPC", {"level": 30}) is None
    assert (sim.frames[-1].command, gear.state().target_arc) == ("DAPC", percent_to_arc(30))
    assert await level(drv, "lum-1") == pytest.approx(30, abs=0.5)
    await drv.call("lum-1", "RECALL_MAX_LEVEL", {})
    assert sim.frames[-1].command == "RecallMaxLevel"
    assert await level(drv, "lum-1") == pytest.approx(arc_to_percent(settings.max_level), abs=0.01)
    await drv.call("lum-1", "RECALL_MIN_LEVEL", {})
    assert sim.frames[-1].command == "RecallMinLevel"
    assert await level(drv, "lum-1") == pytest.approx(arc_to_percent(settings.min_level), abs=0.01)
    await drv.call("lum-1", "OFF", {})
    assert sim.frames[-1].command == "Off"
    assert await level(drv, "lum-1") == 0.0
    assert sim.gear(0).luminaire.state().target_arc == settings.power_on  # the other gear untouched


@pytest.mark.parametrize(
    ("action", "args", "reason"),
    [
        ("IDENTIFY", {}, "'IDENTIFY' is not a DALI gear command (DAPC, OFF, RECALL_MAX_LEVEL"),
        ("DAPC", {}, "DAPC takes ['level'], not []"),
        ("OFF", {"level": 0}, "OFF takes no inputs, not ['level']"),
        ("DAPC", {"level": 150}, "level: percent must be 0..100, got 150"),
        ("DAPC", {"level": True}, "level: True is not a percentage"),
    ],
)
async def test_a_call_the_gear_cannot_take_is_refused_before_the_line(
    sim: DaliSerialSim, drv: DaliSerialDriver, action: str, args: dict[str, Any], reason: str
) -> None:
    await drv.read("lum-0")  # the port is open, the interface answered
    sent = len(sim.frames)
    with pytest.raises(CallError) as info:
        await drv.call("lum-0", action, args)
    assert reason in str(info.value)
    assert (info.value.device, info.value.action) == ("lum-0", action)
    assert len(sim.frames) == sent  # nothing went on the bus
    with pytest.raises(CallError, match="no device 'lum-9' on line"):
        await drv.call("lum-9", "OFF", {})


def dali_profile() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PROFILES / "dali-luminaire.yaml").read_text())
    return data


def test_the_shipped_dali_profile_declares_the_luminaire_actions() -> None:
    profile = parse_profile(dali_profile())
    assert isinstance(profile, DaliProfile)
    gateway = parse_profile(yaml.safe_load((PROFILES / "dali-gw-luminaire.yaml").read_text()))
    assert [a.name for a in profile.actions] == [a.name for a in gateway.actions]  # the same actions
    assert [a.args for a in profile.actions] == [a.args for a in gateway.actions]  # with the same args
    assert profile.interlocks == gateway.interlocks
    assert {a.name: a.call.method for a in profile.actions if a.call} == {
        "set_level": GearCommand.DAPC,
        "off": GearCommand.OFF,
        "recall_max": GearCommand.RECALL_MAX_LEVEL,
        "recall_min": GearCommand.RECALL_MIN_LEVEL,
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("method", "actions (off).call.method: 'SWITCH_OFF' is not a DALI gear command"),
        ("inputs", "actions (recall_max).call.args: RECALL_MAX_LEVEL takes no inputs, not ['level']"),
        ("write", "actions (off).write: a DALI profile acts by call (a gear command)"),
        ("point", "actions (set_level).read_back.expect[0].point: 'brightness' is not a point"),
    ],
)
def test_a_dali_profile_that_asks_what_a_gear_cannot_do_is_refused(change: str, expected: str) -> None:
    data = copy.deepcopy(dali_profile())
    actions = {a["name"]: a for a in data["actions"]}
    match change:
        case "method":
            actions["off"]["call"]["method"] = "SWITCH_OFF"
        case "inputs":
            actions["recall_max"]["call"]["args"] = {"level": {"const": 100}}
        case "write":
            actions["off"]["write"] = [{"register": 15, "values": [0]}]
            del actions["off"]["call"]
        case "point":
            actions["set_level"]["read_back"]["expect"][0]["point"] = "brightness"
    with pytest.raises(ValidationError) as info:
        parse_profile(data)
    assert expected in str(info.value), str(info.value)
