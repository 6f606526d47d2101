"""The demo: a simulated cabinet, a broker, the agent and the collector as real processes.

``run.py`` is the README's first command; the parts are run by ``harness/stack.py`` (the end-to-end tests
and the benchmarks use it too).
"""
