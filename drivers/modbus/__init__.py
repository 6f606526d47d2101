"""Modbus (TCP now; RTU over serial next): ``config`` (what a point is), ``plan`` (which requests read
a device), ``codec`` (registers to values, pure), ``client`` (the only module doing I/O)."""
