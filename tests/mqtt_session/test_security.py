"""TLS settings and credentials against a real Mosquitto: a TLS listener that wants a client certificate,
and a password file."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from harness.broker import Broker, free_port
from mqtt_session import Credentials, Message, MqttLink, TlsSettings
from simulators.certs import self_signed
from tests.mqtt_session.session import running, wait_for


class TlsBroker(Broker):
    tls_port: int
    server_cert: Path
    client_cert: Path
    client_key: Path


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[TlsBroker]:
    """Plain listener (free port) and a TLS one (server certificate, client certificate required);
    the user ``cabinet`` with the password ``s3cret``."""
    server_cert, server_key = self_signed(tmp_path / "server", "broker", "urn:test:broker")
    client_cert, client_key = self_signed(tmp_path / "client", "cab-1", "urn:test:cab-1")
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "cabinet", "s3cret"], check=True)
    passwords.chmod(0o600)
    tls_port = free_port()
    conf = (
        "user root\n"  # as root, Mosquitto would become 'mosquitto', who cannot read pytest's tmp_path
        f"password_file {passwords}\n"
        f"listener {tls_port} 127.0.0.1\n"
        f"certfile {server_cert}\nkeyfile {server_key}\ncafile {client_cert}\nrequire_certificate true\n"
    )
    broker = TlsBroker(tmp_path, extra_conf=conf)
    broker.tls_port, broker.server_cert = tls_port, server_cert
    broker.client_cert, broker.client_key = client_cert, client_key
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@contextlib.asynccontextmanager
async def failing(link: MqttLink) -> AsyncIterator[None]:
    """``link`` trying to connect, in a task; stopped on exit."""
    task = asyncio.create_task(link.run())
    try:
        yield
    finally:
        await link.close()
        await asyncio.wait_for(task, 5)


def tls_link(broker: TlsBroker, tls: TlsSettings, credentials: Credentials | None = None) -> MqttLink:
    return MqttLink(
        client_id="cab-1", host=broker.host, port=broker.tls_port, tls=tls, credentials=credentials
    )


async def test_tls_with_a_client_certificate_and_credentials(tls_broker: TlsBroker) -> None:
    got: list[Message] = []
    tls = TlsSettings(tls_broker.server_cert, tls_broker.client_cert, tls_broker.client_key)
    link = tls_link(tls_broker, tls, Credentials("cabinet", "s3cret"))
    link.route("t/tls", got.append)
    async with running(link):
        await link.publish_confirmed("t/tls", b"over tls")
        await wait_for(lambda: len(got) == 1)
    assert got[0].payload == b"over tls"


async def test_without_a_client_certificate_it_does_not_connect(tls_broker: TlsBroker) -> None:
    link = tls_link(tls_broker, TlsSettings(ca_file=tls_broker.server_cert))
    async with failing(link):
        await wait_for(lambda: link.last_error is not None)
        await asyncio.sleep(0.5)
    assert link.connects == 0


async def test_the_credentials_are_sent(tls_broker: TlsBroker) -> None:
    def plain(creds: Credentials) -> MqttLink:
        return MqttLink(client_id="cab-1", host=tls_broker.host, port=tls_broker.port, credentials=creds)

    wrong = plain(Credentials("cabinet", "no"))
    async with failing(wrong):
        await wait_for(lambda: "refused: Not authorized" in (wrong.last_error or ""))
    assert wrong.connects == 0
    async with running(plain(Credentials("cabinet", "s3cret"))) as right:
        assert right.connects == 1


def test_credentials_do_not_show_the_password() -> None:
    assert "s3cret" not in repr(Credentials("cabinet", "s3cret"))
    with pytest.raises(ValueError, match="key_file without cert_file"):
        TlsSettings(key_file=Path("k.pem"))
