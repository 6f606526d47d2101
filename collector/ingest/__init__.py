"""Ingest: from the broker to the store and back to the gateway.

``subscriber.py`` (MQTT session: telemetry in, unacknowledged) → ``decode.py`` (pure: accept or
quarantine, naming the flaw) → ``writer.py`` (one sink transaction per drained set of messages; dedup
happens in the store, inside that transaction) → only after COMMIT: acknowledge the broker and publish
``confirmations.py``' per gateway+epoch Confirmation. ``counters.py`` holds what ingest counted.
"""
