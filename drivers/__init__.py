"""Field drivers: one folder per protocol (config model, read planner, codec, client), device profiles,
and simulators of the real devices (real servers, used by the tests and the demo).

Telemetry path: ``drivers/<protocol>/client`` is the first hop; the agent's poller calls a
:class:`drivers.base.Driver` per physical bus. Importing this package imports no protocol library:
the agent imports only the drivers its config uses.
"""
