"""Our transport to a serial DALI interface speaking Lunatone's LUBA protocol (:mod:`drivers.dali.luba`):
``send(frame)`` puts one forward frame on the DALI bus and returns the gear's answer (a byte), or
:attr:`Missing.NO_ANSWER` (no backward frame: a command, a query answered "no", a gear that is not
there), or :attr:`Missing.FRAMING_ERROR` (several gear answered at once).

One exchange follows python-dali's ``DriverLubaRs232._send_frame``: empty what is waiting (late answers
of an earlier frame), write ADD DALI FRAME TO TX BUFFER, wait up to ``timeout_s`` for the interface's
frame-sent event (two for a send-twice frame) and then, for a query, up to ``answer_timeout_s`` for a
frame-received event. Opening the port (lazily, on the first frame) does python-dali's handshake:
QUERY DEVICE INFO, then WRITE SETTINGS with its event filter, which the interface echoes.

The port is blocking pyserial, used from one worker thread of our own, so the event loop never waits
on the line and exchanges never overlap. Failures raise :class:`LinkError` subclasses or pyserial's own
exceptions, which :mod:`drivers.dali.client` translates; a port that failed is closed and opened again
by the next frame.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from drivers.dali import luba
from drivers.dali.plan import Frame

log = logging.getLogger(__name__)

READ_SLICE_S = 0.005  # one blocking read waits at most this long, so a deadline is checked often


class Missing(enum.Enum):
    NO_ANSWER = "no answer"
    FRAMING_ERROR = "framing error"


Answer = int | Missing


class LinkError(Exception):
    """The interface did not do what the protocol says."""


class InterfaceSilent(LinkError):
    """No reply from the interface at all."""


class LineGarbled(LinkError):
    """Bytes came back, but no LUBA message: the wrong device, baud rate or cable."""


class FrameRefused(LinkError):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(slots=True)
class TransportStats:
    frames: int = 0  # frames handed to the interface
    answers: int = 0
    no_answers: int = 0  # queries without a backward frame
    framing_errors: int = 0
    noise_bytes: int = 0  # bytes that were not part of a LUBA message
    stale: int = 0  # messages that belonged to an earlier exchange
    opens: int = 0


class DaliTransport(Protocol):
    stats: TransportStats

    async def send(self, frame: Frame) -> Answer: ...

    async def aclose(self) -> None: ...


class SerialLubaTransport:
    def __init__(
        self,
        port: str,
        *,
        timeout_s: float = 1.0,
        answer_timeout_s: float = 0.05,
        integrated_supply: bool = False,
        name: str = "dali",
    ) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self.answer_timeout_s = answer_timeout_s
        self.integrated_supply = integrated_supply
        self.name = name
        self.info: luba.DeviceInfo | None = None
        self.stats = TransportStats()
        self._serial: Any = None  # a pyserial Serial while open
        self._parser = luba.MessageParser()
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False

    async def send(self, frame: Frame) -> Answer:
        if self._closing:
            raise LinkError("the transport is closed")
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"dali-{self.name}")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._exchange, frame)

    async def aclose(self) -> None:
        self._closing = True  # an exchange in flight stops at its next read
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.get_running_loop().run_in_executor(executor, self._close)
            executor.shutdown(wait=False)

    # -- in the worker thread ------------------------------------------------------------------------

    def _exchange(self, frame: Frame) -> Answer:
        port = self._opened()
        try:
            return self._transmit(port, frame)
        except FrameRefused:
            raise  # the interface answered: the port is fine
        except BaseException:
            self._close()  # the next frame opens it again, with a fresh handshake
            raise

    def _transmit(self, port: Any, frame: Frame) -> Answer:
        self._drain(port)
        noise = self._parser.noise
        port.write(luba.add_frame(frame.data, send_twice=frame.send_twice, priority=frame.priority))
        self.stats.frames += 1
        confirmations = 2 if frame.send_twice else 1
        deadline = time.monotonic() + self.timeout_s
        answer_by: float | None = None
        while True:
            now = time.monotonic()
            if answer_by is not None and now >= answer_by:
                self.stats.no_answers += 1
                return Missing.NO_ANSWER
            if confirmations and now >= deadline:
                raise self._no_reply(f"no frame-sent event for {frame.label}", noise)
            for event in self._events(port, frame):
                if event.type == luba.EVENT_SENT and confirmations and event.frame == frame.data:
                    confirmations -= 1
                    if confirmations == 0:
                        if not frame.query:
                            return Missing.NO_ANSWER
                        answer_by = time.monotonic() + self.answer_timeout_s
                elif event.type == luba.EVENT_RECEIVED and answer_by is not None:
                    answer = self._answer(event)
                    if answer is not None:
                        return answer
                else:
                    self.stats.stale += 1

    def _events(self, port: Any, frame: Frame) -> list[luba.Event]:
        """The events that arrived; a refusal of the frame raises."""
        events = []
        for msg in self._messages(port):
            if msg.command == luba.Command.ADD_DALI_FRAME_RSP and len(msg.payload) == 1:
                raise _refused(msg.payload[0], frame)
            if msg.command != luba.Command.EVENT:
                continue  # the accepting reply (its frame id is in the sent event too)
            try:
                events.append(luba.Event.parse(msg.payload))
            except ValueError:
                self.stats.stale += 1
        return events

    def _answer(self, event: luba.Event) -> Answer | None:
        if event.info in (luba.INFO_FRAMING_ERROR, luba.INFO_START_STOP_ONLY):
            self.stats.framing_errors += 1
            return Missing.FRAMING_ERROR
        if len(event.frame) == 1:
            self.stats.answers += 1
            return event.frame[0]
        self.stats.stale += 1  # another master's forward frame: not our answer
        return None

    def _messages(self, port: Any) -> list[luba.Message]:
        if self._closing:
            raise LinkError("the transport is closed")
        data = port.read(max(1, port.in_waiting))
        before = self._parser.noise
        messages = self._parser.feed(data)
        self.stats.noise_bytes += self._parser.noise - before
        return messages

    def _drain(self, port: Any) -> None:
        """Take what waits on the line: late messages of an earlier exchange, or noise."""
        while port.in_waiting:
            self.stats.stale += len(self._messages(port))

    def _await_reply(self, port: Any, command: luba.Command, what: str) -> luba.Message:
        noise = self._parser.noise
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            for msg in self._messages(port):
                if msg.command == command:
                    return msg
                self.stats.stale += 1
        raise self._no_reply(f"no reply to {what}", noise)

    def _no_reply(self, what: str, noise_before: int) -> LinkError:
        noise = self._parser.noise - noise_before
        if noise:
            sample = " ".join(f"{b:02X}" for b in self._parser.sample)
            self._parser.sample.clear()
            return LineGarbled(
                f"{what} within {self.timeout_s:g} s, only {noise} byte(s) that are not LUBA messages "
                f"(first: {sample}) on {self.port}: is a Lunatone LUBA interface there, at "
                f"{luba.BAUDRATE} 8N1?"
            )
        return InterfaceSilent(
            f"{what} within {self.timeout_s:g} s: the DALI interface on {self.port} is silent "
            "(unplugged, powered off, or another device)"
        )

    def _opened(self) -> Any:
        if self._serial is not None:
            return self._serial
        import serial  # pyserial: only a config with a DALI line loads it

        port = serial.Serial(
            self.port,
            baudrate=luba.BAUDRATE,
            bytesize=8,
            parity="N",
            stopbits=1,
            timeout=READ_SLICE_S,
            write_timeout=self.timeout_s,
            exclusive=True,
        )
        self._parser = luba.MessageParser()
        try:
            port.write(luba.query_device_info())
            reply = self._await_reply(port, luba.Command.QUERY_DEVICE_INFO_RSP, "QUERY DEVICE INFO")
            info = luba.DeviceInfo.parse(reply.payload)
            port.write(luba.write_settings(integrated_supply=self.integrated_supply))
            echo = self._await_reply(port, luba.Command.READ_WRITE_SETTINGS_RSP, "WRITE SETTINGS").payload
            if echo[:2] != bytes([0, luba.EVENT_FILTER]):
                raise LinkError(
                    f"the interface on {self.port} did not take our settings (it says {echo.hex()})"
                )
        except ValueError as exc:
            port.close()
            raise LinkError(f"the interface on {self.port} answered the handshake wrongly: {exc}") from exc
        except BaseException:
            port.close()
            raise
        self.info = info
        self.stats.opens += 1
        log.info(
            "%s: LUBA DALI interface on %s: article %d, id %d, GTIN %d",
            self.name,
            self.port,
            info.article,
            info.id,
            info.gtin,
        )
        self._serial = port
        return port

    def _close(self) -> None:
        if self._serial is not None:
            port, self._serial = self._serial, None
            port.close()


def _refused(code: int, frame: Frame) -> FrameRefused:
    try:
        reason = luba.TxError(code).name.lower().replace("_", " ")
    except ValueError:
        reason = f"error code {code}"
    return FrameRefused(code, f"the interface refused {frame.label}: {reason}")
