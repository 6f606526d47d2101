"""The security of the ``sim-tlc`` server: with a :class:`ServerSecurity`, only Basic256Sha256 endpoints
are offered, and with ``trusted`` only those client certificates are accepted (others get
BadCertificateUntrusted); without one, only the unsecured endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from asyncua import ua
from asyncua.common.utils import ServiceError
from asyncua.server.server import Server
from asyncua.ua.status_codes import StatusCodes
from cryptography import x509
from cryptography.hazmat.primitives import hashes

Mode = Literal["Sign", "SignAndEncrypt"]


@dataclass(frozen=True, slots=True)
class ServerSecurity:
    certificate: Path
    private_key: Path
    modes: tuple[Mode, ...] = ("Sign", "SignAndEncrypt")
    trusted: tuple[Path, ...] | None = None  # client certificates accepted; None: any


async def set_security(server: Server, sec: ServerSecurity | None) -> None:
    server.set_identity_tokens([ua.AnonymousIdentityToken])  # no users: the channel's security only
    if sec is None:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        return
    await server.load_certificate(str(sec.certificate))
    await server.load_private_key(str(sec.private_key))
    policies = {
        "Sign": ua.SecurityPolicyType.Basic256Sha256_Sign,
        "SignAndEncrypt": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
    }
    server.set_security_policy([policies[m] for m in sec.modes])
    if sec.trusted is not None:
        trusted = {_fingerprint(x509.load_pem_x509_certificate(p.read_bytes())) for p in sec.trusted}

        async def validate(cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
            if _fingerprint(cert) not in trusted:
                raise ServiceError(StatusCodes.BadCertificateUntrusted)

        server.set_certificate_validator(validate)


def _fingerprint(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())
