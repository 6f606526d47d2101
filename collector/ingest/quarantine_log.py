"""How a quarantine is logged by the collector's writers: at ERROR the first time per gateway, at DEBUG
after (a bounded set of gateways: their names come from payloads too)."""

from __future__ import annotations

import logging

from mqtt_session import Message

MAX_GATEWAYS = 1024


class QuarantineLog:
    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._noisy: set[str | None] = set()  # gateways whose quarantines were logged at ERROR

    def __call__(self, m: Message, gateway: str | None, reason: str) -> None:
        first = gateway not in self._noisy
        if first and len(self._noisy) >= MAX_GATEWAYS:
            self._noisy.clear()
        self._noisy.add(gateway)
        (self._log.error if first else self._log.debug)(
            "quarantined %d bytes on %s: %s%s",
            len(m.payload),
            m.topic,
            reason,
            " (further ones from this gateway at DEBUG; see `collector quarantine`)" if first else "",
        )
