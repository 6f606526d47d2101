"""The last-value cache: every reading the pollers take goes in — suppressed by report by exception or
not, bad and offline ones with their reason — and the status server answers from it without the bus."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers.modbus.config import ModbusTcpLink
from drivers.modbus.tcp import ModbusTcpDriver
from edge_agent.buffer.store import Buffer
from edge_agent.clock import ManualClock
from edge_agent.config.model import UplinkConfig
from edge_agent.health.status_server import StatusServer
from edge_agent.poll.poller import DevicePoller
from edge_agent.poll.report import ReportFilter, ReportSpec
from edge_agent.state.lastvalues import LastValues
from edge_agent.uplink.publisher import Publisher
from edge_agent.uplink.topics import UplinkTopics
from mqtt_session.link import MqttLink
from simulators.luminaire.bank import LuminaireBankServer
from tests.edge_agent.test_poller import luminaire
from wire.points import Quality, Reading


@pytest.fixture
async def sim() -> AsyncIterator[LuminaireBankServer]:
    async with LuminaireBankServer(count=2) as s:
        yield s


def test_the_newest_reading_of_each_point_is_kept() -> None:
    last = LastValues()
    t = 1_767_225_600_000
    last.update([Reading("a", "p", t, 1), Reading("a", "q", t, 2), Reading("b", "p", t, 3)])
    last.update([Reading("a", "p", t + 10, None, Quality.OFFLINE, "timeout")])
    last.update([Reading("a", "p", t + 5, 9)])  # older than the one kept: ignored
    got = last.get("a", "p")
    assert got is not None
    assert (got.value, got.quality, got.reason, got.ts_ms) == (None, Quality.OFFLINE, "timeout", t + 10)
    assert dict(last.device("a"))["q"].value == 2
    assert last.devices() == ["a", "b"]
    assert last.get("c", "p") is None
    assert dict(last.device("c")) == {}


async def test_the_pollers_fill_it_suppressed_and_offline_readings_too(
    tmp_path: Path, sim: LuminaireBankServer
) -> None:
    clock = ManualClock()
    buf = await Buffer.open(tmp_path / "b.db", gateway="gw", clock=clock, commit_interval_s=0)
    dev = luminaire(1)
    link = ModbusTcpLink(kind="modbus_tcp", host="127.0.0.1", port=sim.port, timeout_s=0.3)
    driver = ModbusTcpDriver("bus", link, [dev])
    report = ReportFilter({(dev.name, p.name): ReportSpec(deadband=1e9) for p in dev.points})
    last = LastValues()
    poller = DevicePoller(
        driver=driver,
        device=dev.name,
        points=[p.name for p in dev.points],
        interval_s=1.0,
        offset_s=0,
        buffer=buf,
        clock=clock,
        report=report,
        last_values=last,
    )
    mqtt = MqttLink(client_id="gw", host="127.0.0.1", port=1)  # not connected
    status = StatusServer(
        path=tmp_path / "s.sock",
        identity={},
        buffer=buf,
        link=mqtt,
        publisher=Publisher(
            buffer=buf, link=mqtt, topics=UplinkTopics.single("t"), config=UplinkConfig(), clock=clock
        ),
        pollers=[poller],
        clock=clock,
        last_values=last,
    )
    try:
        await poller.poll_once()
        await clock.advance(1)
        sent = await poller.poll_once()  # nothing moved past the deadband: suppressed
        assert {r.point for r in sent} == {"online"}
        cached = last.device(dev.name)
        assert {p.name for p in dev.points} | {"online"} == set(cached)
        assert all(r.ts_ms == clock.now_ms() and r.quality is Quality.GOOD for r in cached.values())
        await sim.stop()
        await clock.advance(1)
        await poller.poll_once()
        answer = await status.answer(json.dumps({"cmd": "values", "device": dev.name}).encode())
    finally:
        await driver.aclose()
        await buf.close()
    offline = last.get(dev.name, dev.points[0].name)
    assert offline is not None
    assert (offline.quality, offline.value) == (Quality.OFFLINE, None)
    assert offline.reason
    assert answer["ok"] is True
    by_point = {v["point"]: v for v in answer["values"]}
    assert by_point[dev.points[0].name]["quality"] == "offline"
    assert by_point["online"]["value"] is False
