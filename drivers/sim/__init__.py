"""Simulators of the field devices, shipped as the test doubles: real servers on real sockets.

``luminaires``: a DALI-to-Modbus gateway (Intesis style, devices.md §5.1) with a bank of luminaires —
``dali_curve`` (arc level ↔ percent), ``luminaire`` (the model of one luminaire), ``dali_gateway`` (its
register map), ``luminaire_bank`` (the pymodbus TCP server); run it with ``python -m drivers.sim``. On an
RS-485 line, one gateway per unit id: ``luminaire_line`` serves them as Modbus RTU through
``rtu_server`` (slave units on a tty or a pty, paced at the baud rate, faults to inject, a log of the
line) and ``rtu_frame`` (the frame codec); ``python -m drivers.sim luminaires --serial pty --units 1-20``.

``bollards``: a retractable-bollard access site (devices.md §5.3) — ``bollard_codes`` (its codes and
records), ``bollard_drive`` (the hydraulic drive in time), ``bollard`` (the controller's logic and
interlocks), ``bollard_map`` (its register map and command mailbox), ``bollard_server`` (the pymodbus TCP
server); run it with ``python -m drivers.sim bollards``.

``dali-serial``: a Lunatone LUBA RS232 DALI interface with gear on its line, on a pty — ``dali_bus`` (the
gear: luminaire models behind DALI commands and D4i memory banks, frames decoded by python-dali),
``dali_serial`` (the interface's side of the LUBA protocol, paced like a DALI bus); run it with
``python -m drivers.sim dali-serial``.

``traffic``: a traffic-light controller (devices.md §2, §5.2) as an OPC-UA server — ``traffic_plan``
(signal groups, stages, intergreens, plans, one cycle's schedule), ``traffic_priority`` (bus-priority
requests), ``traffic_detectors``, ``traffic_status`` (modes, alarms, the snapshot), ``traffic_controller``
(the model, on an injectable clock), ``opcua_server`` (asyncua, ``Objects/Intersection_<id>/``),
``certs`` (throwaway certificates), ``traffic_cli``; run it with ``python -m drivers.sim traffic``.
"""
