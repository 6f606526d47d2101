"""What a write or a method call asks of an OPC-UA device, checked before anything is sent: the point
exists and the value encodes (:func:`drivers.opcua.codec.encode`); the method's path is not empty and
the arguments are the method's, by name, of types its declared arguments take. Refusals are
:class:`drivers.errors.WriteError` and :class:`drivers.errors.CallError`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from asyncua import ua

from drivers.base import Value
from drivers.errors import CallError, WriteError
from drivers.opcua.codec import encode
from drivers.opcua.config import OpcUaDevice, OpcUaPoint
from drivers.opcua.nodes import BrowseName, parse_path

_INTEGERS = frozenset(
    {
        ua.VariantType.SByte,
        ua.VariantType.Byte,
        ua.VariantType.Int16,
        ua.VariantType.UInt16,
        ua.VariantType.Int32,
        ua.VariantType.UInt32,
        ua.VariantType.Int64,
        ua.VariantType.UInt64,
    }
)
_REALS = frozenset({ua.VariantType.Float, ua.VariantType.Double})
_TEXT = frozenset({ua.VariantType.String, ua.VariantType.LocalizedText})


def writable(
    bus: str, dev: OpcUaDevice | None, device: str, point: str, value: Value
) -> tuple[OpcUaPoint, bool | int | float | str]:
    """The point to write and its raw value; ``dev`` None: no such device on the server."""
    if dev is None:
        raise WriteError(f"no device {device!r} on {bus}", device=device, point=point)
    p = next((q for q in dev.points if q.name == point), None)
    if p is None:
        raise WriteError(f"no point {point!r} on {bus}", device=dev.name, point=point)
    try:
        return p, encode(p, value)
    except ValueError as exc:  # the codec's reason: null, not in the enum, no whole raw value
        raise WriteError(str(exc), device=dev.name, point=point) from exc


def method_path(bus: str, dev: OpcUaDevice | None, device: str, action: str) -> tuple[BrowseName, ...]:
    """The browse path of the method ``action`` under the device's root."""
    if dev is None:
        raise CallError(f"no device {device!r} on {bus}", device=device, action=action)
    path = parse_path(action)
    if not path:
        raise CallError("an empty method path", device=dev.name, action=action)
    return path


def arguments(
    bus: str,
    dev: OpcUaDevice,
    action: str,
    declared: Sequence[tuple[str, ua.VariantType]],
    args: Mapping[str, Value],
) -> list[ua.Variant]:
    """``args`` as the method's input arguments, in its order."""
    names = [n for n, _ in declared]
    if set(args) != set(names):
        raise CallError(f"{action} takes {names}, got {sorted(args)}", device=dev.name, action=action)
    out = []
    for name, vtype in declared:
        value = args[name]
        if not _fits(value, vtype):
            reason = f"{action}: argument {name} is a {vtype.name}, not {value!r}"
            raise CallError(reason, device=dev.name, action=action)
        if vtype in _REALS and isinstance(value, int):
            value = float(value)  # a Double argument given as 20: sent as 20.0
        out.append(ua.Variant(value, vtype))
    return out


def _fits(value: Value, vtype: ua.VariantType) -> bool:
    if vtype is ua.VariantType.Boolean:
        return isinstance(value, bool)
    if vtype in _INTEGERS:
        return isinstance(value, int) and not isinstance(value, bool)
    if vtype in _REALS:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if vtype in _TEXT:
        return isinstance(value, str)
    return True  # another type: the server says whether it takes it
