"""The traffic-controller simulator serves what a real controller's OPC-UA server does — EngineeringUnits
on its analog variables, a SourceTimestamp (the controller's clock) and a ServerTimestamp on every value —
and a point may carry either timestamp instead of the poll's (``timestamp: source | server``)."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.uaerrors import UaStatusCodeError
from pydantic import ValidationError

from drivers.base import PointValue
from drivers.opcua.client import OpcUaDriver
from drivers.opcua.config import OpcUaDevice, OpcUaPointSpec, ReadMode, TimestampSource
from drivers.opcua.resolve import resolve_device
from edge_agent.buffer.store import Buffer
from edge_agent.clock import ManualClock
from edge_agent.poll.poller import DevicePoller
from simulators.traffic.controller import TrafficController
from simulators.traffic.server import TrafficControllerServer
from tests.fixtures.traffic_sim import link, profile

# the controller's clock is an hour and a bit behind: its timestamps cannot be taken for anyone else's
CONTROLLER_TIME = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)
CONTROLLER_MS = int(CONTROLLER_TIME.timestamp() * 1000)
STAMPED = {"cycle_time": TimestampSource.SOURCE, "d{n}_occupancy": TimestampSource.SERVER}


def device(read: ReadMode) -> OpcUaDevice:
    p = profile()
    specs = tuple(s.model_copy(update={"timestamp": STAMPED.get(s.name, s.timestamp)}) for s in p.points)
    return resolve_device(
        "tlc",
        poll_interval_s=1.0,
        points=specs,
        params={"id": 1, "signal_groups": 5, "detectors": 4},
        root=p.root,
        namespace=p.namespace,
        read=read,
        sampling_interval_ms=100.0,
    )


async def test_analog_variables_have_engineering_units() -> None:
    server = TrafficControllerServer(TrafficController(), port=0, refresh_s=0.1)
    await server.start()
    try:
        async with Client(server.endpoint) as client:
            ns = await client.get_namespace_index("urn:streetgate:sim-tlc")
            objects = client.nodes.objects

            async def units(path: str) -> ua.EUInformation:
                parts = [f"{ns}:Intersection_1", *(f"{ns}:{p}" for p in path.split("/"))]
                node = await objects.get_child([*parts, "0:EngineeringUnits"])
                eu = await node.read_value()
                assert isinstance(eu, ua.EUInformation)
                return eu

            occupancy = await units("Detectors/D1/Occupancy")
            assert occupancy.DisplayName.Text == "%"
            assert occupancy.UnitId == int.from_bytes(b"P1", "big")  # UNECE "P1", percent
            assert occupancy.NamespaceUri == "http://www.opcfoundation.org/UA/units/un/cefact"
            assert (await units("Status/CycleTime")).DisplayName.Text == "s"
            with pytest.raises(UaStatusCodeError):  # a state, not a quantity: no units
                await objects.get_child(
                    [f"{ns}:Intersection_1", f"{ns}:Status", f"{ns}:Stage", "0:EngineeringUnits"]
                )
    finally:
        await server.stop()


@pytest.mark.parametrize("read", [ReadMode.POLL, ReadMode.SUBSCRIPTION])
async def test_a_point_carries_the_timestamp_it_asks_for(read: ReadMode, tmp_path: Path) -> None:
    server = TrafficControllerServer(TrafficController(), port=0, refresh_s=0.1, wall=lambda: CONTROLLER_TIME)
    async with server:
        dev = device(read)
        driver = OpcUaDriver("tlc-bus", link(server.endpoint), [dev])
        clock = ManualClock()
        buffer = await Buffer.open(tmp_path / "b.db", gateway="gw", clock=clock, commit_interval_s=0)
        try:
            got = {v.point: v for v in await driver.read("tlc")}
            assert got["cycle_time"].ts_ms == CONTROLLER_MS  # the source timestamp
            server_ts = got["d1_occupancy"].ts_ms
            assert server_ts is not None
            assert abs(server_ts - time.time() * 1000) < 60_000  # the server's clock, not the controller's
            assert got["stage"].ts_ms is None  # the default: the poll's time
            poller = DevicePoller(
                driver=driver,
                device="tlc",
                points=[p.name for p in dev.points],
                interval_s=1.0,
                offset_s=0.0,
                buffer=buffer,
                clock=clock,
            )
            readings = {r.point: r for r in await poller.poll_once()}
            assert readings["cycle_time"].ts_ms == CONTROLLER_MS
            assert readings["stage"].ts_ms == clock.now_ms() != CONTROLLER_MS
        finally:
            await driver.aclose()
            await buffer.close()


def test_the_timestamp_option_is_checked() -> None:
    spec = {"name": "x", "path": "A/B", "timestamp": "source"}
    assert OpcUaPointSpec.model_validate(spec).timestamp is TimestampSource.SOURCE
    assert OpcUaPointSpec.model_validate({"name": "x", "path": "A/B"}).timestamp is TimestampSource.POLL
    with pytest.raises(ValidationError, match="timestamp"):
        OpcUaPointSpec.model_validate({**spec, "timestamp": "device"})


def test_a_point_value_without_a_timestamp_is_the_polls() -> None:
    assert PointValue("x", 1).ts_ms is None
