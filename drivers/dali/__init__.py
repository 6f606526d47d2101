"""DALI straight from the cabinet: control gear on a DALI line behind a serial interface speaking
Lunatone's LUBA protocol. Telemetry path: ``client`` (reads) → edge_agent/poll.

``config`` (what a line, a gear and a point are), ``points`` (where each quantity lives: a query or a
D4i memory value, from python-dali's map), ``plan`` (which frames read a gear, and their bus time),
``codec`` (answers to values, pure), ``luba`` (the LUBA framing, pure), ``transport`` (frames over
pyserial, off the event loop), ``client`` (the driver: the only module translating failures).
"""
