"""The contract between gateways and the centre: topics, points and the payload codecs.

Pure (no I/O). Both the agent and the collector import it, and neither imports the other (a test
enforces it), so a change of format is a change to both sides at once. The human-readable contract
is ``docs/protocol.md``.
"""

PROTOCOL_VERSION = 1
