"""Browse an OPC-UA server's address space (the technician's ``scan opcua``): what a config can name.

Walks ``Objects`` breadth-first down to ``depth`` levels, at most ``limit`` nodes, and reads each
variable's value. Anonymous and unsecured: for a secured server, use the agent with a config.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.ua.uaerrors import UaError

from drivers.errors import DeviceUnreachable


@dataclass(frozen=True, slots=True)
class BrowsedNode:
    path: str  # browse names from Objects, e.g. "2:Intersection_1/2:Status/2:Stage"
    node_id: str
    node_class: str
    value: object | None


async def browse(
    url: str, *, depth: int = 4, limit: int = 2000, timeout_s: float = 5.0
) -> AsyncIterator[BrowsedNode]:
    client = Client(url, timeout=timeout_s)
    try:
        await asyncio.wait_for(client.connect(), timeout_s + 1)
    except (OSError, TimeoutError, UaError) as exc:
        why = os.strerror(exc.errno).lower() if isinstance(exc, OSError) and exc.errno else repr(exc)
        raise DeviceUnreachable(f"cannot connect to {url}: {why}") from exc
    try:
        queue: list[tuple[Node, str, int]] = [(client.nodes.objects, "", 0)]
        seen = 0
        while queue and seen < limit:
            node, path, level = queue.pop(0)
            for child in await node.get_children():
                name = await child.read_browse_name()
                child_path = f"{path}/{name.to_string()}" if path else name.to_string()
                if child_path.startswith("0:Server"):
                    continue  # the server's own diagnostics: not field data
                node_class = await child.read_node_class()
                value = None
                if node_class == ua.NodeClass.Variable:
                    try:
                        value = await child.read_value()
                    except UaError as exc:
                        value = f"<{exc}>"
                seen += 1
                yield BrowsedNode(child_path, child.nodeid.to_string(), node_class.name, value)
                if level + 1 < depth and node_class == ua.NodeClass.Object:
                    queue.append((child, child_path, level + 1))
    finally:
        await client.disconnect()
