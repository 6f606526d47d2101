"""What ingest counted since start (owned and incremented by the ingest components only)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class IngestCounters:
    received: int = 0  # MQTT messages handed to ingest, both sessions (live and backlog)
    backlog_received: int = 0  # of which on the backlog session (.../telemetry/backlog)
    stored_batches: int = 0
    stored_readings: int = 0
    duplicates: int = 0  # batches already in the store: confirmed again, not stored again
    quarantined: int = 0  # messages kept in the quarantine table, conflicts included
    conflicts: int = 0  # batch keys re-used with other content (also in quarantined)
    store_errors: int = 0  # failed commit attempts (retried; the messages stay unacknowledged)
    # Messages refused by a full queue: acknowledged to the broker (it does not redeliver them) but
    # neither stored nor confirmed; the gateway re-sends each batch when its confirmation does not come.
    overflow: int = 0
    backlog_overflow: int = 0  # of which refused by the backlog lane
    confirms_unsent: int = 0  # confirmations not published (not connected): the gateway resends
    stale_acks: int = 0  # commits whose message came on an older connection (the broker redelivers)
    # gateways' outbox messages (command results and events; collector.ingest.outbox)
    outbox_stored: int = 0
    outbox_duplicates: int = 0  # already in the store: confirmed again, not stored again
    outbox_overflow: int = 0  # refused by a full outbox queue (acknowledged, not confirmed: re-sent)
