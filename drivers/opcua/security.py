"""Security of an OPC-UA session: our certificate and key loaded, the server's certificate pinned, and a
check over an unsecured channel that the server offers our policy and mode and shows the pinned
certificate (a server that cannot decrypt our request would otherwise just not answer)."""

from __future__ import annotations

import hashlib

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto import security_policies

from drivers.errors import DriverError
from drivers.opcua.config import OpcUaLink, OpcUaSecurity, SecurityMode


async def secure(client: Client, sec: OpcUaSecurity, link: OpcUaLink, device: str) -> None:
    """Set up ``client``'s security; :class:`DriverError` if the files or the server do not fit."""
    policy = security_policies.SecurityPolicyBasic256Sha256
    mode = (
        ua.MessageSecurityMode.Sign
        if sec.mode is SecurityMode.SIGN
        else ua.MessageSecurityMode.SignAndEncrypt
    )
    try:
        await client.set_security(
            policy,
            certificate=sec.certificate,
            private_key=sec.private_key,
            server_certificate=sec.server_certificate,
            mode=mode,
        )
    except (OSError, ValueError, TypeError) as exc:
        files = f"{sec.certificate}, {sec.private_key}, {sec.server_certificate}"
        raise DriverError(f"cannot load the security files ({files}): {exc}", device=device) from exc
    probe = Client(link.endpoint, timeout=link.timeout_s)
    endpoints = await probe.connect_and_get_server_endpoints()
    found = [e for e in endpoints if e.SecurityPolicyUri == policy.URI and e.SecurityMode == mode]
    if not found:
        offered = sorted(
            {f"{e.SecurityPolicyUri.rsplit('#', 1)[-1]} {e.SecurityMode.name}" for e in endpoints}
        )
        reason = f"the server offers no Basic256Sha256 {sec.mode} endpoint (it offers {', '.join(offered)})"
        raise DriverError(reason, device=device)
    shown = first_certificate(found[0].ServerCertificate or b"")
    pinned = client.security_policy.peer_certificate or b""
    if shown != pinned:
        reason = (
            f"the server shows certificate sha256:{digest(shown)}, not server_certificate "
            f"{sec.server_certificate} (sha256:{digest(pinned)}): renewed, or another server?"
        )
        raise DriverError(reason, device=device)


def first_certificate(der: bytes) -> bytes:
    """The first certificate of a DER chain (a SEQUENCE with a two-byte length)."""
    if len(der) > 4 and der[1] == 0x82:
        return der[: int.from_bytes(der[2:4], "big") + 4]
    return der


def digest(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()[:16] if der else "none"
