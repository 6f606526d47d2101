"""Whether the kernel says the wall clock is synchronised: ``adjtimex(2)`` asked read-only (modes 0).
An NTP daemon (chrony, systemd-timesyncd, ntpd) clears the kernel's STA_UNSYNC once it disciplines the
clock; setting the clock by hand (``date -s``), or a board without a real-time clock booting, leaves it
set, and adjtimex then answers TIME_ERROR. The lighting runner trusts the clock only while this says
synchronised (``lighting.clock_sync: kernel``, the default)."""

from __future__ import annotations

import ctypes
import sys

TIME_ERROR = 5  # adjtimex: the clock is not synchronised
_TIMEX_BYTES = 1024  # struct timex is 208 bytes on 64-bit Linux; modes 0 (first field) = read only


def kernel_synchronised() -> bool | None:
    """True or False as the kernel says; None where it cannot be asked (not Linux, no adjtimex)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        adjtimex = ctypes.CDLL(None, use_errno=True).adjtimex
    except (OSError, AttributeError):
        return None
    state = adjtimex(ctypes.create_string_buffer(_TIMEX_BYTES))
    if state < 0:
        return None
    return bool(state != TIME_ERROR)
