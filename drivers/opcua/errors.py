"""The one translation of asyncua's and ``ua`` exceptions into :mod:`drivers.errors` (raised by the
caller with ``from exc``), and of status codes into :class:`~drivers.opcua.codec.Status`.

No connection, a timeout, a lost session: :class:`DeviceUnreachable`. The server refusing us (a
certificate it does not trust, a security policy it does not offer, a method's Bad result):
:class:`BadStatus`, with the status name.
"""

from __future__ import annotations

from asyncua import ua
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from drivers.errors import BadStatus, DeviceUnreachable, DriverError
from drivers.opcua.codec import Status

# Status codes that mean the session or its channel is gone (the server restarted, the network broke).
LOST = frozenset(
    {
        "BadCommunicationError",
        "BadConnectionClosed",
        "BadNoCommunication",
        "BadNotConnected",
        "BadRequestTimeout",
        "BadSecureChannelClosed",
        "BadSecureChannelIdInvalid",
        "BadServerHalted",
        "BadServerNotConnected",
        "BadSessionClosed",
        "BadSessionIdInvalid",
        "BadSessionNotActivated",
        "BadShutdown",
        "BadTimeout",
    }
)


def status(code: ua.StatusCode | None) -> Status:
    if code is None:
        return Status(0, "Good")
    return Status(code.value, code.name)


def translate(exc: Exception, what: str, device: str, timeout: float) -> DriverError:
    """The driver error for an exception raised while doing ``what`` (``timeout``: the request's)."""
    if isinstance(exc, TimeoutError):
        return DeviceUnreachable(f"no answer within {timeout:g} s {what}", device=device)
    if isinstance(exc, ConnectionError | OSError):
        return DeviceUnreachable(f"{what}: {exc or type(exc).__name__}", device=device)
    if isinstance(exc, UaStatusCodeError):
        s = status(ua.StatusCode(exc.code))
        if s.name in LOST:
            return DeviceUnreachable(f"{what}: {s.name}", device=device)
        hint = ""
        if s.name == "BadCertificateUntrusted":
            hint = " (the server does not trust our certificate: add it to the server's trust list)"
        elif s.name.startswith(("BadCertificate", "BadSecurity")):
            hint = " (check our certificate: its validity dates, and application_uri in its subjectAltName)"
        reason = f"{what}: the server answered {s.name}{hint}"
        return BadStatus(s.code, s.name, reason, device=device)
    if isinstance(exc, UaError) and str(exc).startswith("No matching endpoints"):
        reason = f"{what}: the server offers no endpoint for our security setting ({exc})"
        return DriverError(reason, device=device)
    if isinstance(exc, UaError):
        return DriverError(f"{what}: {exc}", device=device)
    return DriverError(f"{what}: unexpected {type(exc).__name__}: {exc}", device=device)
