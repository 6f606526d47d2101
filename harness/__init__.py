"""The harness that the demo, the benchmarks and the tests share: real parts run as processes (Mosquitto,
the simulators, the agent, the collector), never shipped in the wheel.

- ``broker.py``: Mosquitto on a free loopback port;
- ``stack.py``: the whole stack (simulated cabinet, broker, agent, collector) as processes;
- ``procstat.py``: CPU, memory and I/O of a process, from /proc;
- ``sink_wrappers.py``: collector sinks that fail or block on demand;
- ``faults/``: the fault suite's stack and scenarios (``tests/faults`` runs them scaled down,
  ``bench/soak.py`` at full durations).

``tests/`` and ``bench/`` import from here and never from each other (tests/test_harness_imports.py).
"""
