"""What a write or a call asks of a Modbus device, checked before anything goes on the line: the point
exists and can be written, the value encodes (:func:`drivers.modbus.codec.encode`); a call needs a
command mailbox in the device's profile, which no profile declares yet (a later issue adds them).
Refusals are :class:`drivers.errors.WriteError` and :class:`drivers.errors.UnsupportedAction`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from drivers.base import Value
from drivers.errors import CallError, UnsupportedAction, WriteError
from drivers.modbus.codec import encode
from drivers.modbus.config import ModbusDevice, ModbusPoint, Table


def writable(
    bus: str, dev: ModbusDevice | None, device: str, point: str, value: Value
) -> tuple[ModbusPoint, list[int]]:
    """The point to write and its registers (or coil); ``dev`` None: no such device on ``bus``."""
    if dev is None:
        raise WriteError(f"no device {device!r} on {bus}", device=device, point=point)
    p = next((q for q in dev.points if q.name == point), None)
    if p is None:
        raise WriteError(f"no point {point!r} on {bus}", device=dev.name, point=point)
    if p.table in (Table.INPUT, Table.DISCRETE):
        raise WriteError(f"a {p.table.value} point is read-only", device=dev.name, point=point)
    try:
        return p, encode(p, value)
    except ValueError as exc:  # the codec's reason: does not fit, not in the enum, not a number
        raise WriteError(str(exc), device=dev.name, point=point) from exc


MAX_WRITE = 123  # registers in one FC16 request


def registers(
    bus: str, dev: ModbusDevice | None, device: str, address: int, values: Sequence[int]
) -> list[int]:
    """The words of a raw holding-register write, checked: the device exists, 1..123 words of 16 bits
    within the register space."""
    if dev is None:
        raise WriteError(f"no device {device!r} on {bus}", device=device)
    words = list(values)
    if not 1 <= len(words) <= MAX_WRITE:
        raise WriteError(f"{len(words)} registers: one request takes 1..{MAX_WRITE}", device=dev.name)
    if not 0 <= address <= 0x10000 - len(words):
        raise WriteError(f"holding {address}+{len(words)} is outside 0..65535", device=dev.name)
    for i, w in enumerate(words):
        if not 0 <= w <= 0xFFFF:
            raise WriteError(f"holding {address + i}: {w} does not fit 16 bits", device=dev.name)
    return words


def refused_call(
    bus: str, dev: ModbusDevice | None, device: str, action: str, args: Mapping[str, Value]
) -> CallError:
    """Why a call cannot be sent: no such device, or (every device, for now) no command mailbox."""
    if dev is None:
        return CallError(f"no device {device!r} on {bus}", device=device, action=action)
    return UnsupportedAction(
        f"{action!r}: the device's profile declares no command mailbox (Modbus calls need one)",
        device=dev.name,
        action=action,
    )
