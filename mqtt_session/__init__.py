"""The MQTT session both services share: paho-mqtt driven by the asyncio loop.

Connect, reconnect with capped jittered backoff, last will, QoS-1 publish tracking (one future per
message id), manual acknowledgement after a commit, and routing of topic filters to handlers. It knows
nothing of streetgate's topics or payloads: those are the contract (:mod:`wire`).
"""
