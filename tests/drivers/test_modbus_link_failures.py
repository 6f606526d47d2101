"""drivers.modbus.client when the link fails: a stopped server, a silent peer, nobody listening, a cancel.

Each must end in DeviceUnreachable within about the link timeout, never a hang, and the next read must
start from a fresh connection.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from drivers.errors import DeviceUnreachable
from drivers.modbus.tcp import ModbusTcpDriver
from simulators.luminaire.bank import LuminaireBankServer
from tests.drivers.conftest import Points, SteppedClock, device, link, until, values


async def test_a_stopped_server_is_unreachable_then_recovers(
    clock: SteppedClock, luminaire_points: Points
) -> None:
    sim = LuminaireBankServer(count=1, now=clock)
    await sim.start()
    drv = ModbusTcpDriver("gw", link(sim.port, timeout_s=0.5), [device("lum-0", luminaire_points(0))])
    try:
        values(await drv.read("lum-0"))
        await sim.stop()
        start = time.monotonic()
        with pytest.raises(DeviceUnreachable) as err:
            await drv.read("lum-0")
        assert time.monotonic() - start < 1.5
        assert err.value.device == "lum-0"
        with pytest.raises(DeviceUnreachable, match="cannot connect"):
            await drv.read("lum-0")
        async with LuminaireBankServer(port=sim.port, count=1, now=clock):
            assert values(await drv.read("lum-0"))["level"] == 100
        assert drv.stats.connects == 2
    finally:
        await drv.aclose()
        await sim.stop()


async def test_a_peer_that_never_answers_is_unreachable_within_the_timeout(luminaire_points: Points) -> None:
    peers: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer)
        await reader.read()  # until the client hangs up; never a byte back

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    drv = ModbusTcpDriver("gw", link(port, timeout_s=0.3), [device("lum-0", luminaire_points(0))])
    try:
        start = time.monotonic()
        with pytest.raises(DeviceUnreachable, match=r"no response within 0.3 s reading holding 5\+2") as err:
            await drv.read("lum-0")
        assert 0.25 <= time.monotonic() - start < 2.0  # the 0.3 s timeout, not a stall
        assert err.value.__cause__ is not None
        assert (drv.stats.requests, drv.stats.timeouts) == (1, 1)
        # a late answer must not be taken for the next request's: the next read starts a new connection
        with pytest.raises(DeviceUnreachable):
            await drv.read("lum-0")
        assert (drv.stats.connects, drv.stats.timeouts, len(peers)) == (2, 2, 2)
    finally:
        await drv.aclose()
        server.close()
        for w in peers:
            w.close()
            await w.wait_closed()
        await server.wait_closed()


async def test_a_cancelled_read_leaves_no_half_open_request(
    clock: SteppedClock, luminaire_points: Points
) -> None:
    async with LuminaireBankServer(count=1, delay_ms=200, now=clock) as sim:
        drv = ModbusTcpDriver("gw", link(sim.port), [device("lum-0", luminaire_points(0))])
        try:
            task = asyncio.create_task(drv.read("lum-0"))
            await until(lambda: sim.requests > 0, "the request at the server (its answer 200 ms away)")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            sim.delay_s = 0.0
            assert values(await drv.read("lum-0"))["level"] == 100
            assert drv.stats.connects == 2  # the cancelled request's answer went with its connection
        finally:
            await drv.aclose()


async def test_nobody_listening_is_unreachable_at_once(luminaire_points: Points) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    drv = ModbusTcpDriver("gw", link(port, timeout_s=5.0), [device("lum-0", luminaire_points(0))])
    start = time.monotonic()
    with pytest.raises(DeviceUnreachable, match=f"cannot connect to 127.0.0.1:{port}"):
        await drv.read("lum-0")
    assert time.monotonic() - start < 2.5  # refused at once, not after the 5 s timeout
    assert (drv.stats.requests, drv.stats.connects) == (0, 0)
    await drv.aclose()
