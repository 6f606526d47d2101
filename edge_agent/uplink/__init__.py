"""The uplink: sealed batches from the buffer to the broker (MQTT QoS 1), confirmations back from the
collector into the buffer (``ack``/``reject``). A broker's PUBACK is not a confirmation."""
