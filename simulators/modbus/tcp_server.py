"""What every Modbus TCP simulator shares: serving a pymodbus ``SimDevice`` on ``host:port`` (port 0
picks a free one, read back into ``port``), stopping it with its connections, ``async with``."""

from __future__ import annotations

import asyncio
from typing import cast

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import SimDevice

from simulators.served import Served


class ModbusTcpSim(Served):
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: ModbusTcpServer | None = None

    def device(self) -> SimDevice:
        """The tables and the action to serve (built fresh for each start)."""
        raise NotImplementedError

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        server = ModbusTcpServer(self.device(), address=(self.host, self.port))
        await server.serve_forever(background=True)  # raises RuntimeError when it cannot listen
        listener = cast(asyncio.Server, server.transport)  # a listening server's transport is the Server
        self.port = listener.sockets[0].getsockname()[1]
        self._server = server

    async def stop(self) -> None:
        """Stop listening and drop every client connection."""
        if self._server is not None:
            server, self._server = self._server, None
            await server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus leaves it unannotated
