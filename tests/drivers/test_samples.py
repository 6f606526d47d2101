"""The shipped samples load: the luminaire profile and the config block of drivers/modbus/README.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter

from drivers.modbus.config import DataType, resolve_points
from drivers.modbus.plan import plan_reads
from edge_agent.config.model import AnyBus, Bus, ModbusRtuBus, ModbusTcpBus
from tests.drivers.conftest import PROFILES, load_profile

README = Path(__file__).resolve().parents[2] / "drivers" / "modbus" / "README.md"
BUS: TypeAdapter[AnyBus] = TypeAdapter(Bus)


def test_luminaire_profile_has_the_ten_benchmark_points() -> None:
    profile = load_profile("dali-gw-luminaire")
    assert profile.name == "dali-gw-luminaire"
    assert profile.params == ("c", "sa")
    assert [p.name for p in profile.points] == [
        "status",
        "level",
        "led_failure",
        "active_energy",
        "active_power",
        "operating_time",
        "start_counter",
        "gear_temperature",
        "supply_voltage",
        "light_source_failure",
    ]
    for p in profile.points:
        if p.type is DataType.UINT32:
            assert p.unavailable == (0xFFFFFFFF,), p.name


def test_luminaire_profile_places_channel_1() -> None:
    profile = load_profile("dali-gw-luminaire")
    points = {p.name: p for p in resolve_points(profile.points, {"c": 1, "sa": 2})}
    assert points["status"].address == 7205
    assert points["active_energy"].address == 25000 + 3200 + 200 + 34


def test_readme_config_blocks_resolve_to_three_requests_per_luminaire() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) == 2  # a TCP gateway, an RTU line
    kinds, devices = [], 0
    for block in blocks:
        config: dict[str, Any] = yaml.safe_load(block)
        for bus in config["buses"]:
            link = BUS.validate_python(bus)  # the agent's own model of a bus
            assert isinstance(link, ModbusTcpBus | ModbusRtuBus)
            kinds.append(link.kind)
            for dev in bus["devices"]:
                assert (PROFILES / f"{dev['profile']}.yaml").exists()
                profile = load_profile(dev["profile"])
                assert set(dev["params"]) == set(profile.params)
                points = resolve_points(profile.points, dev["params"], profile.word_order, profile.byte_order)
                assert len(plan_reads(points, link.max_registers, link.max_gap)) == 3
                devices += 1
    assert kinds == ["modbus_tcp", "modbus_rtu"]
    assert devices == 2 + 4


def test_every_shipped_profile_validates_and_resolves() -> None:
    paths = sorted(PROFILES.glob("*.yaml"))
    assert {p.stem for p in paths} >= {"dali-gw-luminaire", "bollard-site"}
    for path in paths:
        if yaml.safe_load(path.read_text()).get("protocol") in ("opcua", "dali"):
            continue  # checked in test_opcua_config.py, test_dali_actions.py
        profile = load_profile(path.stem)
        assert profile.name == path.stem
        points = resolve_points(profile.points, dict.fromkeys(profile.params, 0))
        assert plan_reads(points), path.name
