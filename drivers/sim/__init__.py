"""Simulators of the field devices, shipped as the test doubles: real servers on real sockets.

``luminaires``: a DALI-to-Modbus gateway (Intesis style, devices.md §5.1) with a bank of luminaires —
``dali_curve`` (arc level ↔ percent), ``luminaire`` (the model of one luminaire), ``dali_gateway`` (its
register map), ``luminaire_bank`` (the pymodbus TCP server); run it with ``python -m drivers.sim``.
"""
