"""Subscriptions: a device's subscribed points read once (so the first ``read`` after a connect has
values), then one subscription per device whose data changes keep the latest value of each point."""

from __future__ import annotations

from typing import Any, Protocol

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeNotif

from drivers.base import PointValue
from drivers.opcua.codec import decode
from drivers.opcua.config import OpcUaPoint
from drivers.opcua.datavalue import plain, point_value, read
from drivers.opcua.errors import status


class Counts(Protocol):
    notifications: int


class Updates:
    """The subscription handler of one device: keeps the latest value of each subscribed point."""

    def __init__(
        self, stats: Counts, latest: dict[str, PointValue], points: dict[ua.NodeId, list[OpcUaPoint]]
    ) -> None:
        self._stats = stats
        self._latest = latest
        self._points = points

    def datachange_notification(self, node: Node, val: Any, data: DataChangeNotif) -> None:
        self._stats.notifications += 1
        dv = data.monitored_item.Value
        for p in self._points.get(node.nodeid, ()):
            self._latest[p.name] = point_value(p, dv) if dv is not None else decode(p, plain(val))

    def status_change_notification(self, change: ua.StatusChangeNotification) -> None:
        s = status(change.Status)
        if s.bad:
            for points in self._points.values():
                for p in points:
                    self._latest[p.name] = PointValue(p.name, None, f"subscription ended: {s.name}")


async def subscribe(
    client: Client, stats: Counts, points: list[OpcUaPoint], node_ids: list[ua.NodeId]
) -> dict[str, PointValue]:
    """Read ``points`` (at ``node_ids``) once and subscribe to them; returns their latest values, which
    the subscription keeps up to date."""
    latest: dict[str, PointValue] = {}
    seed = await read(client, node_ids)
    for p, dv in zip(points, seed, strict=True):
        latest[p.name] = point_value(p, dv)
    by_node: dict[ua.NodeId, list[OpcUaPoint]] = {}
    for p, i in zip(points, node_ids, strict=True):
        by_node.setdefault(i, []).append(p)
    publishing_ms = min(p.sampling_interval_ms for p in points) or 100.0
    sub = await client.create_subscription(publishing_ms, Updates(stats, latest, by_node))
    by_interval: dict[float, list[ua.NodeId]] = {}
    for i, p in zip(node_ids, points, strict=True):
        if i not in by_interval.get(p.sampling_interval_ms, []):
            by_interval.setdefault(p.sampling_interval_ms, []).append(i)
    for interval, group in by_interval.items():
        handles = await sub.subscribe_data_change(
            [client.get_node(i) for i in group], sampling_interval=ua.Double(interval), queuesize=1
        )
        for i, h in zip(group, handles, strict=True):
            if isinstance(h, ua.StatusCode):
                for p in by_node[i]:
                    latest[p.name] = PointValue(p.name, None, f"cannot monitor {p.where()}: {status(h).name}")
    return latest
