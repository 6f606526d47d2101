"""The contract between gateways and the centre: topics, payload codecs and the MQTT transport.

This is the only part of ``edge_agent`` that ``collector`` imports (a test enforces it), so a change
of format is a change to both sides at once. The human-readable contract is ``docs/protocol.md``.
"""

PROTOCOL_VERSION = 1
