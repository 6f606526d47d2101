"""A traffic-light controller as an OPC-UA server (devices.md §2, §5.2)."""
