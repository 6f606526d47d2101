"""Secure channels: Basic256Sha256 with Sign and with SignAndEncrypt against a server that offers only
those and trusts one client certificate; every wrong setting fails fast with a clear error, not a hang."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from drivers.errors import BadStatus, DeviceUnreachable, DriverError
from drivers.opcua.client import OpcUaDriver
from drivers.opcua.config import OpcUaLink
from simulators.certs import self_signed
from simulators.traffic.controller import TrafficController
from simulators.traffic.security import ServerSecurity
from simulators.traffic.server import APPLICATION_URI, TrafficControllerServer
from tests.drivers.conftest import SteppedClock
from tests.fixtures.traffic_sim import expected, link, tlc_device, values

pytestmark = pytest.mark.asyncio(loop_scope="module")
CLIENT_URI = "urn:streetgate:edge-agent"
CONNECT_TIMEOUT = 10.0  # long: a failure that waits for it is told apart from one at once


@dataclass
class Secured:
    server: TrafficControllerServer
    certs: dict[str, tuple[Path, Path]]  # name -> (certificate, private key)

    def link(self, mode: str, client: str = "agent", server_cert: str = "server", **kw: Any) -> OpcUaLink:
        cert, key = self.certs[client]
        security = {
            "policy": "Basic256Sha256",
            "mode": mode,
            "certificate": str(cert),
            "private_key": str(key),
            "server_certificate": str(self.certs[server_cert][0]),
        }
        return link(self.server.endpoint, security=security, connect_timeout_s=CONNECT_TIMEOUT, **kw)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secured(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Secured]:
    d = tmp_path_factory.mktemp("pki")
    certs = {
        "server": self_signed(d, "server", APPLICATION_URI),
        "impostor": self_signed(d, "impostor", APPLICATION_URI),  # another server's certificate
        "agent": self_signed(d, "agent", CLIENT_URI),
        "stranger": self_signed(d, "stranger", CLIENT_URI),  # valid, but not trusted by the server
    }
    clock = SteppedClock()
    model = TrafficController(now=clock)
    clock.advance(10)
    security = ServerSecurity(certs["server"][0], certs["server"][1], trusted=(certs["agent"][0],))
    async with TrafficControllerServer(model, port=0, security=security) as server:
        yield Secured(server, certs)


@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
async def test_a_trusted_client_reads_and_calls(secured: Secured, mode: str) -> None:
    driver = OpcUaDriver("tlc-bus", secured.link(mode), [tlc_device()])
    try:
        assert values(await driver.read("tlc")) == expected(secured.server.model.snapshot())
        assert await driver.call("tlc", "Heartbeat", {}) is None
    finally:
        await driver.aclose()


async def fails(secured: Secured, opcua_link: OpcUaLink) -> DriverError:
    driver = OpcUaDriver("tlc-bus", opcua_link, [tlc_device()])
    start = time.monotonic()
    try:
        with pytest.raises(DriverError) as failed:
            await driver.read("tlc")
    finally:
        await driver.aclose()
    took = time.monotonic() - start
    assert took < CONNECT_TIMEOUT / 2, f"a wrong setting fails at once, not after a timeout: {took:.1f} s"
    return failed.value


async def test_a_client_the_server_does_not_trust_is_refused(secured: Secured) -> None:
    error = await fails(secured, secured.link("SignAndEncrypt", client="stranger"))
    assert isinstance(error, BadStatus)
    assert error.status == "BadCertificateUntrusted"
    assert "does not trust our certificate" in error.reason


async def test_a_server_with_another_certificate_is_refused(secured: Secured) -> None:
    error = await fails(secured, secured.link("SignAndEncrypt", server_cert="impostor"))
    assert not isinstance(error, DeviceUnreachable)  # found before the server could fail to decrypt us
    assert "not server_certificate" in error.reason
    assert "impostor.pem" in error.reason


async def test_a_client_without_security_is_refused(secured: Secured) -> None:
    error = await fails(secured, link(secured.server.endpoint, connect_timeout_s=CONNECT_TIMEOUT))
    assert not isinstance(error, DeviceUnreachable)
    assert "no endpoint for our security setting" in error.reason


async def test_missing_certificate_files_are_named(secured: Secured, tmp_path: Path) -> None:
    security = {
        "policy": "Basic256Sha256",
        "mode": "Sign",
        "certificate": str(tmp_path / "no.pem"),
        "private_key": str(secured.certs["agent"][1]),
        "server_certificate": str(secured.certs["server"][0]),
    }
    error = await fails(secured, link(secured.server.endpoint, security=security))
    assert "cannot load the security files" in error.reason
    assert "no.pem" in error.reason
