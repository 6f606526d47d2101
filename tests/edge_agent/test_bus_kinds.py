"""The bus registry: one entry per kind of the config's bus union, and the buses of every sample config
(configs/*.yaml) are resolved and their drivers built through it."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from drivers.scheduler import BusScheduler
from edge_agent.config.kinds import BUS_KINDS
from edge_agent.config.load import ConfigError, load_config
from edge_agent.config.model import AnyBus
from edge_agent.poll.build import build_driver

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
AGENT_CONFIGS = sorted(p for p in CONFIGS.glob("*.yaml") if not p.name.startswith("collector"))


def test_the_registry_has_one_entry_per_kind_of_the_bus_union() -> None:
    union = {typing.get_args(m.model_fields["kind"].annotation)[0]: m for m in typing.get_args(AnyBus)}
    assert {kind: entry.model for kind, entry in BUS_KINDS.items()} == union


async def test_the_registry_builds_every_bus_kind_of_the_sample_configs() -> None:
    built: dict[str, str] = {}
    for path in AGENT_CONFIGS:
        for bus in load_config(path).buses:
            driver = build_driver(bus, BusScheduler(bus.name, bus.link.frame_gap_s))
            try:
                assert driver.name == bus.name
                assert tuple(driver.devices()) == tuple(d.name for d in bus.devices), path
            finally:
                await driver.aclose()
            built[bus.link.kind] = type(driver).__name__
    assert built == {
        "modbus_tcp": "ModbusTcpDriver",
        "modbus_rtu": "ModbusRtuDriver",
        "dali_serial": "DaliSerialDriver",
        "opcua": "OpcUaDriver",
    }


def test_the_loader_resolves_through_the_registry_it_is_given() -> None:
    without_opcua = {kind: entry for kind, entry in BUS_KINDS.items() if kind != "opcua"}
    with pytest.raises(ConfigError, match=r"opcua.example.yaml: buses\[0\].kind: no driver for 'opcua'"):
        load_config(CONFIGS / "opcua.example.yaml", without_opcua)
