"""asyncua's DataValues and variants as plain Python: what the pure codec and the point values take."""

from __future__ import annotations

from asyncua import ua

from drivers.base import PointValue, Value
from drivers.opcua.codec import decode
from drivers.opcua.config import OpcUaPoint
from drivers.opcua.errors import status


def plain(value: object) -> object:
    """asyncua's text-like values as plain Python (LocalizedText, QualifiedName); others as they are."""
    if isinstance(value, ua.LocalizedText):
        return value.Text
    if isinstance(value, ua.QualifiedName):
        return value.Name
    return value


def output(value: object) -> Value:
    """A method's output as a point value: a scalar as it is, text-like values as text."""
    value = plain(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def point_value(point: OpcUaPoint, dv: ua.DataValue) -> PointValue:
    value = dv.Value.Value if dv.Value is not None else None
    return decode(point, plain(value), status(dv.StatusCode))
