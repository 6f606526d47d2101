"""Every counter of the agent, by the one name it has from where it is counted to where it is reported:
the buffer's ``counters`` table, the status server's JSON (``edge-agent status --json``), the technician
CLI and the ``_agent`` points on the wire (``docs/protocol.md``).

The buffer's counters are kept in its file (they survive a restart); the uplink's count since the process
started (:class:`Counts`). Each belongs to the component that increments it; only the names are shared.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Counter(StrEnum):
    # the buffer's, persisted: readings
    COMMITTED = "readings_committed_total"
    SEALED = "readings_sealed_total"
    CONFIRMED = "readings_confirmed_total"  # confirmed stored by the collector: deleted
    REJECTED = "readings_rejected_total"  # quarantined by the collector: dead-lettered
    DROPPED_BUFFER_FULL = "readings_dropped_buffer_full_total"  # unsent, given up at the cap
    DROPPED_UNCONFIRMED = "readings_dropped_unconfirmed_total"  # sent, unconfirmed, given up at the cap
    DROPPED_THINNED = "readings_dropped_thinned_total"  # thinned at the cap (when_full: thin)
    DROPPED_AGE = "readings_dropped_age_total"  # older than buffer.max_age_s
    DROPPED_DISK_FULL = "readings_dropped_disk_full_total"  # not committed: no room even after making room
    # reported, not stored
    DROPPED = "readings_dropped_total"  # every reason above
    SUPPRESSED = "readings_suppressed_total"  # report by exception
    # the uplink's, since the process started
    BATCHES_SENT = "batches_sent_total"
    BATCHES_RESENT = "batches_resent_total"
    BATCHES_CONFIRMED = "batches_confirmed_total"
    BATCHES_REJECTED = "batches_rejected_total"
    CONFIRMATIONS_MALFORMED = "confirmations_malformed_total"
    CONFIRMATIONS_DROPPED_QUEUE_FULL = "confirmations_dropped_queue_full_total"
    # the outbox's (results and events), persisted in its file
    OUTBOX_PUT = "outbox_messages_put_total"
    OUTBOX_CONFIRMED = "outbox_messages_confirmed_total"  # stored by the collector: deleted
    OUTBOX_REJECTED = "outbox_messages_rejected_total"  # quarantined by the collector: dead-lettered
    OUTBOX_REFUSED = "outbox_refused_total"  # new work or a message refused: the outbox was full
    # the outbox sender's, since the process started
    OUTBOX_SENT = "outbox_messages_sent_total"
    OUTBOX_RESENT = "outbox_messages_resent_total"
    OUTBOX_CONFIRMATIONS_MALFORMED = "outbox_confirmations_malformed_total"
    OUTBOX_CONFIRMATIONS_DROPPED_QUEUE_FULL = "outbox_confirmations_dropped_queue_full_total"
    # the command receiver's, since the process started
    COMMANDS_RECEIVED = "commands_received_total"
    COMMANDS_UNAUTHENTIC = "commands_unauthentic_total"  # bad envelope, key or signature: no result
    COMMANDS_REPLAYED = "commands_replayed_total"  # an id seen before: no second result
    COMMANDS_REFUSED = "commands_refused_total"  # refused or expired, with a signed result
    COMMANDS_RUN = "commands_run_total"  # admitted and handed to the executor

    @property
    def reason(self) -> str:
        """A drop's reason, for logs: ``buffer_full``, ``thinned``, ``disk_full``, ..."""
        return self.name.lower().removeprefix("dropped_")


BUFFER = (
    Counter.COMMITTED,
    Counter.SEALED,
    Counter.CONFIRMED,
    Counter.REJECTED,
    Counter.DROPPED_BUFFER_FULL,
    Counter.DROPPED_UNCONFIRMED,
    Counter.DROPPED_THINNED,
    Counter.DROPPED_AGE,
    Counter.DROPPED_DISK_FULL,
)
DROPS = tuple(c for c in BUFFER if c.name.startswith("DROPPED_"))
UPLINK = (
    Counter.BATCHES_SENT,
    Counter.BATCHES_RESENT,
    Counter.BATCHES_CONFIRMED,
    Counter.BATCHES_REJECTED,
    Counter.CONFIRMATIONS_MALFORMED,
    Counter.CONFIRMATIONS_DROPPED_QUEUE_FULL,
)
OUTBOX = (Counter.OUTBOX_PUT, Counter.OUTBOX_CONFIRMED, Counter.OUTBOX_REJECTED, Counter.OUTBOX_REFUSED)
OUTBOX_SENDER = (
    Counter.OUTBOX_SENT,
    Counter.OUTBOX_RESENT,
    Counter.OUTBOX_CONFIRMATIONS_MALFORMED,
    Counter.OUTBOX_CONFIRMATIONS_DROPPED_QUEUE_FULL,
)

COMMANDS = (
    Counter.COMMANDS_RECEIVED,
    Counter.COMMANDS_UNAUTHENTIC,
    Counter.COMMANDS_REPLAYED,
    Counter.COMMANDS_REFUSED,
    Counter.COMMANDS_RUN,
)

# The buffer's table before the names were one (an older buffer file is renamed when opened).
RENAMED = {c.name.lower(): c for c in BUFFER}


class Counts:
    """A component's counters since the process started."""

    def __init__(self, names: Iterable[Counter]) -> None:
        self._counts = dict.fromkeys(names, 0)

    def add(self, name: Counter, n: int = 1) -> None:
        self._counts[name] += n

    def __getitem__(self, name: Counter) -> int:
        return self._counts[name]

    def as_dict(self) -> dict[str, int]:
        return {str(k): v for k, v in self._counts.items()}
