"""A ``modbus_rtu`` bus in the agent config: defaults from the Modbus serial-line spec, errors that name
the field, and the runtime building one scheduler, driver and set of pollers per bus."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.modbus.rtu import ModbusRtuDriver
from drivers.modbus.tcp import ModbusTcpDriver
from drivers.scheduler import BusScheduler
from edge_agent.buffer.store import Buffer
from edge_agent.clock import ManualClock
from edge_agent.config.load import ConfigError, load_config
from edge_agent.config.model import ModbusRtuBus, ModbusTcpBus
from edge_agent.health.reporter import HealthReporter
from edge_agent.poll.backoff import PollBackoff
from edge_agent.runtime import Agent
from tests.edge_agent.stand_ins import Uplink

BASE = """
gateway: cab-1
site: test
buffer: {path: buffer.db}
buses:
  - name: rs485-1
    kind: modbus_rtu
    port: /dev/ttyUSB0
    devices:
      - {name: meter, unit: 3, poll_interval_s: 2, points: [{name: voltage, register: 10}]}
      - {name: slow, unit: 4, timeout_s: 2.5, points: [{name: voltage, register: 10}]}
      - {name: slow-2, unit: 4, points: [{name: current, register: 11}]}
  - name: gw-tcp
    kind: modbus_tcp
    host: 127.0.0.1
    inter_frame_gap_s: 0.01
    devices:
      - {name: lum, points: [{name: level, register: 6}]}
"""


def errors(tmp_path: Path, text: str) -> str:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_an_rtu_bus_resolves_with_the_spec_defaults(tmp_path: Path) -> None:
    (tmp_path / "agent.yaml").write_text(BASE)
    cfg = load_config(tmp_path / "agent.yaml")
    rtu, tcp = cfg.buses
    assert isinstance(rtu.link, ModbusRtuBus)
    link = rtu.link
    assert (link.baudrate, link.bytesize, link.parity.value, link.stopbits) == (19200, 8, "E", 1)
    assert (link.timeout_s, link.retries, link.backoff_max_s) == (1.0, 1, 60.0)
    assert link.frame_gap_s == pytest.approx(3.5 * 11 / 19200)  # 2.005 ms
    assert [d.timeout_s for d in rtu.devices] == [None, 2.5, None]
    assert isinstance(tcp.link, ModbusTcpBus)
    assert (tcp.link.retries, tcp.link.frame_gap_s) == (0, 0.01)


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        (("port: /dev/ttyUSB0", "port: /dev/ttyUSB0\n    parity: X"), "buses[0].parity", "'N', 'E' or 'O'"),
        (("port: /dev/ttyUSB0", "port: /dev/ttyUSB0\n    baudrate: 12345"), "buses[0].baudrate", "19200"),
        (("port: /dev/ttyUSB0", "port: /dev/ttyUSB0\n    bytesize: 7"), "buses[0].bytesize", "8"),
        (("port: /dev/ttyUSB0", "port: /dev/ttyUSB0\n    stopbits: 3"), "buses[0].stopbits", "1 or 2"),
        (("port: /dev/ttyUSB0", "port: ''"), "buses[0].port", "at least 1 character"),
        (("unit: 3", "unit: 0"), "buses[0].devices[0].unit", "0 is the broadcast address"),
        (("timeout_s: 2.5", "timeout_s: 0"), "buses[0].devices[1].timeout_s", "greater than 0"),
        (
            (
                "kind: modbus_tcp\n    host: 127.0.0.1\n    inter_frame_gap_s: 0.01",
                "kind: modbus_rtu\n    port: /dev/ttyUSB0",
            ),
            "buses",
            "buses[1].port: /dev/ttyUSB0 is also buses[0]: one line, one bus",
        ),
        (("kind: modbus_tcp", "kind: carrier_pigeon"), "buses[1]", "'modbus_tcp', 'modbus_rtu'"),
    ],
)
def test_field_errors(tmp_path: Path, change: tuple[str, str], where: str, reason: str) -> None:
    msg = errors(tmp_path, BASE.replace(*change, 1))
    assert f"agent.yaml: {where}" in msg
    assert reason in msg


async def test_the_runtime_builds_one_scheduler_per_bus(tmp_path: Path) -> None:
    (tmp_path / "agent.yaml").write_text(BASE)
    agent = await Agent.build(load_config(tmp_path / "agent.yaml"))
    try:
        assert [b.name for b in agent.buses] == ["rs485-1", "gw-tcp"]
        assert [b.gap_s for b in agent.buses] == [pytest.approx(3.5 * 11 / 19200), 0.01]
        rtu, tcp = agent.drivers
        assert isinstance(rtu, ModbusRtuDriver)
        assert isinstance(tcp, ModbusTcpDriver)
        assert (rtu.scheduler, tcp.scheduler) == tuple(agent.buses)
        pollers = {p.device: p for p in agent.pollers}
        assert [p.offset_s for p in agent.pollers] == [0.0, 10 / 3, 20 / 3, 0.0]  # spread per bus
        reach = {name: p.reachability for name, p in pollers.items()}
        assert reach["meter"] is not None
        assert reach["meter"].policy == PollBackoff(20.0, 60.0)  # 1 s timeout: at most 5 % of the line
        assert reach["slow"] is reach["slow-2"]  # one unit id: they answer, or not, together
        assert reach["slow"] is not None
        assert reach["slow"].policy == PollBackoff(50.0, 60.0)  # the most patient of the two
        assert reach["lum"] is not None
        assert reach["lum"].policy == PollBackoff(20.0, 60.0)
    finally:
        await agent.buffer.close()
        await agent.outbox.close()


async def test_the_health_points_carry_each_bus(tmp_path: Path) -> None:
    bus = BusScheduler("rs485-1")
    clock = ManualClock()
    buffer = await Buffer.open(tmp_path / "b.db", gateway="gw", clock=clock, commit_interval_s=0)
    uplink = Uplink.up(connected=True)
    reporter = HealthReporter(
        buffer=buffer,
        publisher=uplink,  # only its counters are read
        link=uplink,  # only its connected flag is read
        pollers=[],
        clock=clock,
        interval_s=60,
        buses=[bus],
    )
    try:
        for _ in range(3):
            async with bus.slot():
                pass
        values = {r.point: r.value for r in await reporter.report()}
    finally:
        await buffer.close()
    assert values["bus.rs485-1.requests_total"] == 3
    assert values["bus.rs485-1.queue_depth"] == 0
    assert values["bus.rs485-1.queue_max"] == 0
    busy = values["bus.rs485-1.busy_fraction"]
    assert isinstance(busy, float)
    assert 0 <= busy < 1
