"""Where the session's TLS settings and credentials live (a later issue fills them from the configs).

Loading certificates reads files and can block: :func:`apply_tls` is run off the event loop, once,
before the first connect.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """Server verification against ``ca_file`` (None: the system's CAs); a client certificate when
    ``cert_file`` is given (``key_file`` None: the key is in the certificate file)."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("TlsSettings: key_file without cert_file")


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str | None = None

    def __repr__(self) -> str:  # never log a password
        return f"Credentials(username={self.username!r}, password={'***' if self.password else None})"


def apply_tls(client: mqtt.Client, tls: TlsSettings) -> None:
    """Blocking: loads the CA and the client certificate (run it in an executor)."""
    client.tls_set(
        ca_certs=str(tls.ca_file) if tls.ca_file else None,
        certfile=str(tls.cert_file) if tls.cert_file else None,
        keyfile=str(tls.key_file) if tls.key_file else None,
        cert_reqs=ssl.CERT_REQUIRED,
        tls_version=ssl.PROTOCOL_TLS_CLIENT,
    )


def apply_credentials(client: mqtt.Client, credentials: Credentials) -> None:
    client.username_pw_set(credentials.username, credentials.password)
