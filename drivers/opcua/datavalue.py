"""asyncua's DataValues and variants as plain Python: what the pure codec and the point values take, with
the timestamp a point asks for (``timestamp: source | server``); and the Read request that returns both."""

from __future__ import annotations

import dataclasses
import datetime

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds

from drivers.base import PointValue, Value
from drivers.opcua.codec import decode
from drivers.opcua.config import OpcUaPoint, TimestampSource
from drivers.opcua.errors import status

_EPOCH_1601 = datetime.datetime(1601, 1, 2, tzinfo=datetime.UTC)  # a null OPC-UA DateTime comes back as 1601


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
    decoded = decode(point, plain(value), status(dv.StatusCode))
    if point.timestamp is TimestampSource.POLL or decoded.error is not None:
        return decoded
    ts = dv.SourceTimestamp if point.timestamp is TimestampSource.SOURCE else dv.ServerTimestamp
    return dataclasses.replace(decoded, ts_ms=epoch_ms(ts))


def epoch_ms(ts: datetime.datetime | None) -> int | None:
    """An OPC-UA DateTime as Unix milliseconds; None for a missing (or null) one."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=datetime.UTC)
    if ts < _EPOCH_1601:
        return None
    return int(ts.timestamp() * 1000)


async def read(client: Client, node_ids: list[ua.NodeId]) -> list[ua.DataValue]:
    """One Read request for the Values of ``node_ids``, with both their source and server timestamps."""
    params = ua.ReadParameters()
    params.TimestampsToReturn = ua.TimestampsToReturn.Both
    for i in node_ids:
        rv = ua.ReadValueId()
        rv.NodeId = i
        rv.AttributeId = AttributeIds.Value
        params.NodesToRead.append(rv)
    return await client.uaclient.read(params)
