"""Polling: each device on its own interval, staggered across its bus; every result (value, bad or
offline) becomes a :class:`~wire.points.Reading` committed to the buffer."""
