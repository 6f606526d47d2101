"""What the buffer's write path raises to the producers of readings (:meth:`Buffer.append`)."""

from __future__ import annotations


class BufferFull(Exception):
    """``append`` could not commit: no room, even after the buffer made room inside its file. The
    readings were counted as ``readings_dropped_disk_full_total``; the caller goes on (every commit tries
    again)."""

    def __init__(self, readings: int, reason: str) -> None:
        super().__init__(f"{readings} readings not committed: {reason}")
        self.readings = readings
        self.reason = reason


class WriterStopped(Exception):
    """The buffer's writer is not running (it failed, or the buffer is closed): nothing was committed."""
