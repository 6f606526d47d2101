"""Polling: each device on its own interval, staggered across its bus; every result (value, bad or
offline) becomes a :class:`~edge_agent.points.Reading` committed to the buffer."""
