"""The sample profile of drivers/profiles/README.md: it loads, plans as the README says, and reads from
the luminaire simulator (a real pymodbus server), bit points overlaying the status register they share
with a whole-register point."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from drivers.modbus.config import ModbusPoint, resolve_points
from drivers.modbus.plan import plan_reads
from drivers.modbus.tcp import ModbusTcpDriver
from drivers.profiles.model import ModbusProfile, parse_profile
from simulators.luminaire.bank import LuminaireBankServer
from simulators.luminaire.model import LAMP_FAILURE, LAMP_ON, POWER_CYCLE, Fault
from tests.drivers.conftest import SteppedClock, device, link, values

README = Path(__file__).resolve().parents[2] / "drivers" / "profiles" / "README.md"


def sample() -> ModbusProfile:
    block = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)[0]  # [1]: actions
    profile = parse_profile(yaml.safe_load(block))
    assert isinstance(profile, ModbusProfile)
    return profile


def points(sa: int, c: int = 0) -> tuple[ModbusPoint, ...]:
    p = sample()
    return resolve_points(p.points, {"c": c, "sa": sa}, p.word_order, p.byte_order)


def test_the_sample_plans_as_the_readme_says() -> None:
    pts = points(sa=2, c=1)
    assert [(r.table.value, r.address, r.count) for r in plan_reads(pts, max_gap=16)] == [
        ("holding", 7205, 3),
        ("holding", 25000 + 3200 + 200 + 36, 17),
    ]
    assert len(plan_reads(pts, max_gap=0)) == 3


@pytest.fixture
async def sim(clock: SteppedClock) -> AsyncIterator[LuminaireBankServer]:
    async with LuminaireBankServer("127.0.0.1", 0, 4, now=clock) as server:
        yield server


async def test_the_sample_reads_the_simulator_with_bits_over_the_whole_status(
    sim: LuminaireBankServer,
) -> None:
    driver = ModbusTcpDriver("dali-gw", link(sim.port, timeout_s=2.0), [device("lum-3", points(sa=3))])
    try:
        v = values(await driver.read("lum-3"))
        assert v["status"] == LAMP_ON | POWER_CYCLE
        assert (v["lamp_on"], v["lamp_failure"]) == (True, False)
        assert v["device_type"] == "led"
        assert v["level"] == 100
        voltage = v["supply_voltage"]
        assert isinstance(voltage, float)
        assert voltage == round(voltage, 1)
        assert 225 < voltage < 235
        assert sim.requests == 2  # the status register is read once for the three points on it

        sim.inject(3, Fault.LAMP)
        v = values(await driver.read("lum-3"))
        assert isinstance(v["status"], int)
        assert v["status"] & LAMP_FAILURE
        assert not v["status"] & LAMP_ON
        assert (v["lamp_on"], v["lamp_failure"]) == (False, True)
        assert sim.requests == 4
    finally:
        await driver.aclose()
