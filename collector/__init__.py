"""The collector: runs in the control room, stores what the gateways send and confirms it.

Telemetry path through the collector::

    broker ⇢ ingest/ (subscriber → decode → dedup in the store) → sinks/<engine> (one transaction)
        → confirmation ⇢ broker ⇢ gateway (its buffer lets the batch go only then)

The broker's message is acknowledged only after the store committed, so a crash between receipt and
commit loses nothing: the broker redelivers to the collector's persistent session. ``runtime.py``
builds every object from the config and owns shutdown; ``cli.py`` is the command line. From
``edge_agent`` the collector imports only ``wire`` (the contract) and ``wire.points``.
"""
