"""The edge agent: runs on a street-cabinet gateway.

Telemetry path inside the agent::

    drivers/<protocol>/client -> poll/ (scheduler, poller) -> buffer/ (SQLite, durable)
        -> uplink/ (MQTT QoS 1) => broker => collector
        collector confirmation => uplink -> buffer.ack (only then does a batch leave the buffer)

``runtime.py`` builds every object from the config and owns shutdown; ``wire/`` is the contract with the
collector and the only part of this package that the collector imports.
"""
