"""A loopback TCP proxy that can cut the path silently — a network partition — and heal it.

While cut, bytes from either side are read and thrown away: no FIN, no RST, no error, the sockets
stay open and the peers' TCP stacks see their data acknowledged, as behind a dead radio link or a
firewall that drops. New connections are accepted and ignored the same way. Only an application-level
keepalive can notice. Healing forwards new connections again; connections opened before or during the
cut are closed then (their peers gave up on them long ago).

It runs its own event loop in a thread, so a test drives it from synchronous code.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

from harness.broker import free_port


class Partition:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.target_port = target_port
        self.port = free_port()
        self.cut_now = False
        self.connections = 0
        self._generation = 0  # connections of an older generation are dead once healed
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="partition-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[tuple[int, asyncio.StreamWriter]] = set()

    def __enter__(self) -> Partition:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def cut(self) -> None:
        self._loop.call_soon_threadsafe(self._set_cut)

    def heal(self) -> None:
        asyncio.run_coroutine_threadsafe(self._heal(), self._loop).result(5)

    # ---- on the proxy's loop -------------------------------------------------------------------
    def _set_cut(self) -> None:
        self.cut_now = True

    async def _heal(self) -> None:
        self._generation += 1
        self.cut_now = False
        for gen, w in list(self._writers):
            if gen < self._generation:
                w.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for _, w in list(self._writers):
            w.close()

    async def _accept(self, down_r: asyncio.StreamReader, down_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        gen = self._generation if not self.cut_now else -1  # opened during a cut: never forwarded
        self._writers.add((gen, down_w))
        up_w: asyncio.StreamWriter | None = None
        try:
            if gen >= 0:
                up_r, up_w = await asyncio.open_connection(self.host, self.target_port)
                self._writers.add((gen, up_w))
                await asyncio.gather(self._pump(down_r, up_w, gen), self._pump(up_r, down_w, gen))
            else:
                await self._pump(down_r, None, gen)
        except OSError:
            pass
        finally:
            for w in (down_w, up_w):
                if w is not None:
                    self._writers.discard((gen, w))
                    w.close()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter | None, gen: int) -> None:
        while data := await src.read(65536):
            if dst is None or self.cut_now or gen < self._generation:
                continue  # dropped on the floor, silently
            dst.write(data)
            with contextlib.suppress(ConnectionError):
                await dst.drain()
        if dst is not None and not self.cut_now and gen == self._generation:
            dst.close()  # a clean close passes through when the path is up
