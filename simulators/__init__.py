"""Simulators of the field devices, shipped as the test doubles (the ``sim`` extra): real servers on
real sockets and serial lines, faithful to the products of ``shared/reference/devices.md``. One folder
per device family; ``python -m simulators`` runs any of them.

- ``luminaire/``: a DALI-to-Modbus gateway (Intesis style, devices.md §5.1) with a bank of luminaires —
  ``curve`` (arc level ↔ percent), ``model`` (one luminaire), ``gateway`` (its register map), ``bank``
  (the pymodbus TCP server), ``line`` (one gateway per unit id on an RS-485 line, as Modbus RTU).
- ``dali/``: a Lunatone LUBA RS232 DALI interface with gear on its line, on a pty — ``bus`` (the gear
  behind DALI commands and D4i memory banks, frames decoded by python-dali), ``lunatone`` (the
  interface's side of the LUBA protocol, paced like a DALI bus).
- ``bollard/``: a retractable-bollard access site (devices.md §5.3) — ``codes``, ``drive`` (the hydraulic
  drive in time), ``site`` (the controller's logic and interlocks), ``register_map`` (its registers and
  command mailbox), ``server`` (the pymodbus TCP server).
- ``traffic/``: a traffic-light controller (devices.md §2, §5.2) as an OPC-UA server — ``plan``,
  ``priority``, ``detectors``, ``status``, ``controller`` (the model, on an injectable clock), ``server``
  (asyncua, ``Objects/Intersection_<id>/``), ``cli``.
- ``modbus/``: what the Modbus simulators share — ``tcp_server`` (one TCP server lifecycle),
  ``rtu_frame`` and ``rtu_server`` (slave units on a tty or a pty, paced at the baud rate, faults to
  inject, a log of the line); ``certs``: throwaway certificates for OPC-UA security.
"""
