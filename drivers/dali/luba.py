"""The Lunatone LUBA serial protocol (Lunatone LUBA RS232 and DALI-2 RS232 interfaces, 38400 8N1) as
python-dali 0.16 speaks it in ``dali/driver/serial.py``, class ``DriverLubaRs232``: the framing, the
messages our driver sends and the parsing of what the interface sends back. Pure: no I/O. The
simulator (:mod:`simulators.dali.lunatone`) speaks the interface's side with the same functions; a test
holds both sides to python-dali's own bytes.

A message, either way::

    0x59 ('Y') | command | length n | payload (n bytes) | checksum: XOR of command, length and payload

(``LubaProtocol._insert_checksum`` is ``reduce(xor, ints[1:-1])``; its receiver accepts ``0 < n < 24``,
``LubaProtocol.MAX_LEN``.) Messages the driver sends (``send_device_info_query``,
``send_device_settings``, ``send_dali_command``):

- QUERY DEVICE INFO ``0x20`` [0] (set 0) → ``0x21`` with 20 bytes: GTIN (6), id (8), PCB version,
  assembly version, article number (4), all big-endian;
- READ/WRITE SETTINGS ``0x2A`` [mode, event filter, hardware] → ``0x2B`` echoing them. python-dali
  writes mode 0 and event filter ``0x12`` (no send-buffer or macro events: frame-sent and
  frame-received events on, with the tick and the line number in them); hardware bit 7 switches the
  interface's integrated bus power supply on;
- ADD DALI FRAME TO TX BUFFER ``0x32`` [line 0, bits 16|24, mode, d0, d1, d2|0, 0], mode = the
  IEC 62386-101 priority 1..5 with bit 7 for "send twice" → ``0x33`` with 2 bytes (accepted: the frame
  id first) or 1 byte (refused: a :class:`TxError` code).

Events, ``0x31`` [tick (2), line, status, …], status bits 7..6 the type and 5..0 the info
(``_process_luba_event``):

- type 0, frame sent: [… frame id, the forward frame] — the confirmation python-dali waits for (twice
  for a send-twice frame) before it listens for the answer;
- type 2, frame received: info = its bit count 1..32, or 62 (a start/stop bit only) or 63 (a framing
  error: two gear answering at once); then the frame: one byte is a backward frame (an answer), two or
  three another master's forward frame.

One departure from python-dali: after a bad length or checksum its receiver drops everything it had
read for that message; :class:`MessageParser` drops only the first byte and hunts for the next ``0x59``,
so one stray byte cannot swallow the real message behind it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import reduce
from operator import xor

BAUDRATE = 38400  # python-dali opens the port at 38400 baud, 8N1 (DriverLubaRs232.connect)
START = 0x59  # ASCII 'Y'
MAX_LENGTH = 23  # payload bytes: python-dali's receiver accepts 0 < n < 24
EVENT_FILTER = 0x12  # python-dali's event settings: send-buffer (b4) and macro (b1) events off
DEVICE_INFO_LENGTH = 20
EVENT_SENT = 0
EVENT_RECEIVED = 2
INFO_START_STOP_ONLY = 62
INFO_FRAMING_ERROR = 63
SEND_TWICE = 0x80
INTEGRATED_SUPPLY = 0x80  # hardware settings bit 7


class Command(enum.IntEnum):
    """LUBA command codes (python-dali ``DriverLubaRs232.LubaCmd``, after Lunatone's LUBA protocol §2)."""

    QUERY_DEVICE_INFO = 0x20
    QUERY_DEVICE_INFO_RSP = 0x21
    QUERY_DEVICE_DESCRIPTOR = 0x28
    QUERY_DEVICE_DESCRIPTOR_RSP = 0x29
    READ_WRITE_SETTINGS = 0x2A
    READ_WRITE_SETTINGS_RSP = 0x2B
    READ_STATUS = 0x2C
    READ_STATUS_RSP = 0x2D
    EVENT = 0x31
    ADD_DALI_FRAME = 0x32
    ADD_DALI_FRAME_RSP = 0x33


class TxError(enum.IntEnum):
    """Why the interface refused a frame (python-dali ``LubaTxError``, LUBA protocol §2.1.1)."""

    BUS_VOLTAGE_ERROR = 1
    DALI_INITIALIZE_MODE = 2
    DALI_QUIESCENT_MODE = 3
    SEND_BUFFER_FULL = 4
    LINE_NOT_AVAILABLE = 5
    SYNTAX_ERROR = 6
    MACRO_RUNNING = 7


@dataclass(frozen=True, slots=True)
class Message:
    command: int
    payload: bytes


def checksum(command: int, payload: bytes) -> int:
    return reduce(xor, payload, command ^ len(payload))


def encode(command: int, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_LENGTH:
        raise ValueError(f"a LUBA payload holds at most {MAX_LENGTH} bytes, not {len(payload)}")
    return bytes([START, command, len(payload), *payload, checksum(command, payload)])


def add_frame(frame: bytes, *, send_twice: bool = False, priority: int = 1) -> bytes:
    """ADD DALI FRAME TO TX BUFFER for a 16- or 24-bit forward frame."""
    if len(frame) not in (2, 3):
        raise ValueError(f"a forward frame has 16 or 24 bits, not {8 * len(frame)}")
    if not 1 <= priority <= 5:
        raise ValueError(f"a DALI transmit priority is 1..5, not {priority}")
    mode = priority | (SEND_TWICE if send_twice else 0)
    data = frame.ljust(3, b"\x00")
    return encode(Command.ADD_DALI_FRAME, bytes([0, 8 * len(frame), mode, *data, 0]))


def query_device_info() -> bytes:
    return encode(Command.QUERY_DEVICE_INFO, b"\x00")


def write_settings(*, integrated_supply: bool) -> bytes:
    hardware = INTEGRATED_SUPPLY if integrated_supply else 0
    return encode(Command.READ_WRITE_SETTINGS, bytes([0, EVENT_FILTER, hardware]))


@dataclass(frozen=True, slots=True)
class FrameRequest:
    """An ADD DALI FRAME TO TX BUFFER message, as the interface reads it."""

    line: int
    bits: int
    send_twice: bool
    priority: int
    frame: bytes  # 2 or 3 bytes

    @classmethod
    def parse(cls, payload: bytes) -> FrameRequest:
        if len(payload) != 7:
            raise ValueError(f"ADD DALI FRAME carries 7 bytes, not {len(payload)}")
        line, bits, mode = payload[0], payload[1], payload[2]
        if bits not in (16, 24):
            raise ValueError(f"a forward frame has 16 or 24 bits, not {bits}")
        return cls(line, bits, bool(mode & SEND_TWICE), mode & 0x07, payload[3 : 3 + bits // 8])


@dataclass(frozen=True, slots=True)
class Event:
    """A ``0x31`` event: a frame the interface sent (``type`` 0) or received (2)."""

    tick: int
    line: int
    type: int
    info: int
    data: bytes  # sent: the frame id and the frame; received: the frame

    @classmethod
    def parse(cls, payload: bytes) -> Event:
        if len(payload) < 4:
            raise ValueError(f"an event carries at least 4 bytes, not {len(payload)}")
        status = payload[3]
        return cls(int.from_bytes(payload[:2], "big"), payload[2], status >> 6, status & 0x3F, payload[4:])

    def encode(self) -> bytes:
        status = (self.type << 6) | self.info
        return encode(Command.EVENT, bytes([*self.tick.to_bytes(2, "big"), self.line, status, *self.data]))

    @property
    def frame_id(self) -> int | None:
        return self.data[0] if self.type == EVENT_SENT and self.data else None

    @property
    def frame(self) -> bytes:
        """The DALI frame the event carries."""
        return self.data[1:] if self.type == EVENT_SENT else self.data


def sent_event(tick: int, frame_id: int, frame: bytes) -> Event:
    return Event(tick & 0xFFFF, 0, EVENT_SENT, 8 * len(frame), bytes([frame_id, *frame]))


def received_event(tick: int, frame: bytes | None) -> Event:
    """A frame seen on the bus; None: a framing error (several gear answering at once)."""
    if frame is None:
        return Event(tick & 0xFFFF, 0, EVENT_RECEIVED, INFO_FRAMING_ERROR, b"")
    return Event(tick & 0xFFFF, 0, EVENT_RECEIVED, 8 * len(frame), frame)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    gtin: int
    id: int
    pcb_version: int
    assembly_version: int
    article: int

    @classmethod
    def parse(cls, payload: bytes) -> DeviceInfo:
        if len(payload) != DEVICE_INFO_LENGTH:
            raise ValueError(f"device info set 0 carries {DEVICE_INFO_LENGTH} bytes, not {len(payload)}")
        return cls(
            gtin=int.from_bytes(payload[0:6], "big"),
            id=int.from_bytes(payload[6:14], "big"),
            pcb_version=payload[14],
            assembly_version=payload[15],
            article=int.from_bytes(payload[16:20], "big"),
        )

    def encode(self) -> bytes:
        payload = (
            self.gtin.to_bytes(6, "big")
            + self.id.to_bytes(8, "big")
            + bytes([self.pcb_version, self.assembly_version])
            + self.article.to_bytes(4, "big")
        )
        return encode(Command.QUERY_DEVICE_INFO_RSP, payload)


class MessageParser:
    """Bytes in, whole messages out. What cannot start a valid message is dropped a byte at a time and
    counted in ``noise``; an incomplete message waits for its remaining bytes.

    ``min_length`` is 1 for what an interface sends (python-dali's receiver) and 0 for what it reads
    (QUERY DEVICE DESCRIPTOR has no payload).
    """

    def __init__(self, min_length: int = 1) -> None:
        self.min_length = min_length
        self.noise = 0  # bytes dropped since the parser was built
        self.sample = bytearray()  # the first dropped bytes, for an error message
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held for a message that has not arrived whole."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message]:
        self._buf += data
        out: list[Message] = []
        while self._buf:
            if self._buf[0] != START:
                self._drop()
                continue
            if len(self._buf) < 3:
                break
            n = self._buf[2]
            if not self.min_length <= n <= MAX_LENGTH:
                self._drop()
                continue
            if len(self._buf) < n + 4:
                break
            command, payload = self._buf[1], bytes(self._buf[3 : 3 + n])
            if self._buf[3 + n] != checksum(command, payload):
                self._drop()
                continue
            del self._buf[: n + 4]
            out.append(Message(command, payload))
        return out

    def discard(self) -> int:
        """Forget an incomplete message (counted as noise); returns how many bytes it held."""
        n = len(self._buf)
        while self._buf:
            self._drop()
        return n

    def _drop(self) -> None:
        if len(self.sample) < 8:
            self.sample.append(self._buf[0])
        del self._buf[0]
        self.noise += 1
