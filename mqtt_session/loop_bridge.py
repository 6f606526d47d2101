"""paho-mqtt driven by the asyncio loop, with no paho thread.

paho's socket callbacks register the socket with the event loop, so paho reads and writes, and every
paho callback (connect, message, publish, disconnect), run on the loop thread. Blocking work (the TCP
connect, loading TLS files) runs in the default executor. A background task runs paho's housekeeping
(keepalive pings, ping timeouts: a silent partition is noticed there).

Writes: paho asks for the socket to be watched for writing each time it queues a packet (every publish,
every PUBACK it owes). The socket is almost always writable, so the bridge does not watch it: it writes
the queued packets from one callback at the end of the loop's current turn (packets queued in the same
turn leave together), and watches the socket for writing only when the kernel's buffer was full. On
the live path, with about 90 packets a second out, watching costs two ``epoll_ctl`` and a wake-up of
the loop per packet.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt


class LoopBridge:
    def __init__(self, client: mqtt.Client) -> None:
        self._client = client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._misc_task: asyncio.Task[None] | None = None
        self._flush_due = False  # a flush of paho's queued packets is scheduled on the loop
        self._watching_write = False  # the socket is watched for writing (its buffer was full)
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_socket_register_write
        client.on_socket_unregister_write = self._on_socket_unregister_write

    def attach(self) -> None:
        """Drive the client from the running loop (called by the task that runs the session)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()

    def run_blocking(self, fn: Callable[[], None]) -> asyncio.Future[None]:
        assert self._loop is not None
        return self._loop.run_in_executor(None, fn)

    def drop_socket(self) -> None:
        """Stop watching the socket (it stays open)."""
        with contextlib.suppress(Exception):
            sock = self._client.socket()
            if sock is not None and self._loop is not None:
                self._watching_write = False
                self._loop.remove_reader(sock)
                self._loop.remove_writer(sock)

    def release(self) -> None:
        """Stop watching and close the socket, end the housekeeping task."""
        self.drop_socket()
        sock = self._client.socket()
        if sock is not None:
            with contextlib.suppress(Exception):
                sock.close()
        if self._misc_task is not None:
            self._misc_task.cancel()

    def _in_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self._loop is not None
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:  # the connect in the executor opens the socket
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._watch, sock)

    def _watch(self, sock: socket.socket) -> None:
        assert self._loop is not None
        self._loop.add_reader(sock, self._client.loop_read)
        if self._misc_task is None or self._misc_task.done():
            self._misc_task = self._loop.create_task(self._misc_loop(), name="mqtt-misc")

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._unwatch, sock)

    def _unwatch(self, sock: socket.socket) -> None:
        assert self._loop is not None
        self._watching_write = False
        with contextlib.suppress(Exception):
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)

    def _on_socket_register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._schedule_flush, sock)

    def _schedule_flush(self, sock: socket.socket) -> None:
        # Not written here: paho may be inside its own read (a PUBACK it owes) or a callback.
        assert self._loop is not None
        if not self._flush_due:
            self._flush_due = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Write what paho queued on its socket now (another since the flush was asked for, if paho
        reconnected in between)."""
        self._flush_due = False
        if self._watching_write or self._client.socket() is None:
            return  # the writer callback writes it / no socket: nothing can be written
        self._client.loop_write()
        sock = self._client.socket()
        if sock is not None and self._client.want_write():
            self._add_writer(sock)  # the kernel's buffer is full: write the rest when it drains

    def _add_writer(self, sock: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(Exception):
            self._loop.add_writer(sock, self._client.loop_write)
            self._watching_write = True

    def _on_socket_unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        if self._watching_write:
            self._in_loop(self._remove_writer, sock)

    def _remove_writer(self, sock: socket.socket) -> None:
        assert self._loop is not None
        self._watching_write = False
        with contextlib.suppress(Exception):
            self._loop.remove_writer(sock)

    async def _misc_loop(self) -> None:
        while self._client.loop_misc() == mqtt.MQTT_ERR_SUCCESS:  # noqa: ASYNC110 (paho polls)
            await asyncio.sleep(1)
