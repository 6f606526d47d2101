"""Driver errors. Third-party exceptions (pymodbus, pyserial, asyncua) are translated into these at
exactly one place per library (the protocol's ``client.py``), with ``from exc``.

::

    DriverError                      anything a driver reports
    ├── DeviceUnreachable            no answer at all: timeout, refused connection, closed link
    │   └── NoResponse               nothing usable within the timeout (the one failure retried)
    ├── DeviceError                  the device answered, but not with usable data
    │   ├── ExceptionResponse        a Modbus exception code (illegal address, device busy, ...)
    │   ├── BadStatus                an OPC-UA Bad status code (a refused certificate, a method's result)
    │   └── DecodeError              the registers do not decode to the point's type
    ├── WriteError                   a write refused before it was sent: no such device or point, a
    │                                read-only point, a value the point cannot take
    └── CallError                    a call refused before it was sent: no such action, arguments that
        │                            do not match the action's
        └── UnsupportedAction        the driver, or the device's profile, has no actions

Outside the tree, raised while a config is resolved (before any driver runs): :class:`PointError`, a
point of a device's list (its profile's followed by its own) that cannot be resolved.

Nothing was sent for a :class:`WriteError` or a :class:`CallError`; a device that refuses a write or a
call it received answers with a :class:`DeviceError` (an exception response, a Bad status).
"""

from __future__ import annotations


class DriverError(Exception):
    def __init__(self, reason: str, *, device: str | None = None, point: str | None = None) -> None:
        where = "/".join(x for x in (device, point) if x)
        super().__init__(f"{where}: {reason}" if where else reason)
        self.reason = reason
        self.device = device
        self.point = point


class DeviceUnreachable(DriverError):
    """``retry_in_s``: set by a driver that backs off on its own (an OPC-UA session's reconnect policy):
    in how many seconds it will try the device again. A poller then waits that long, not its own back-off."""

    def __init__(
        self,
        reason: str,
        *,
        device: str | None = None,
        point: str | None = None,
        retry_in_s: float | None = None,
    ) -> None:
        super().__init__(reason, device=device, point=point)
        self.retry_in_s = retry_in_s


class NoResponse(DeviceUnreachable):
    pass


class DeviceError(DriverError):
    pass


class ExceptionResponse(DeviceError):
    def __init__(self, code: int, reason: str, *, device: str | None = None, address: int | None = None):
        super().__init__(reason, device=device)
        self.code = code
        self.address = address


class BadStatus(DeviceError):
    def __init__(self, code: int, status: str, reason: str, *, device: str | None = None):
        super().__init__(reason, device=device)
        self.code = code
        self.status = status  # the status code's name: BadUserAccessDenied, BadCertificateUntrusted, ...


class DecodeError(DeviceError):
    pass


class WriteError(DriverError):
    def __init__(self, reason: str, *, device: str | None = None, point: str | None = None) -> None:
        super().__init__(reason, device=device, point=point)


class CallError(DriverError):
    def __init__(self, reason: str, *, device: str | None = None, action: str | None = None) -> None:
        super().__init__(reason, device=device)
        self.action = action


class UnsupportedAction(CallError):
    pass


class PointError(ValueError):
    """A point that cannot be resolved; ``index`` and ``field`` place it in its list."""

    def __init__(self, index: int, field: str, reason: str) -> None:
        super().__init__(f"points[{index}].{field}: {reason}")
        self.index = index
        self.field = field
        self.reason = reason
