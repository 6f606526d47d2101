"""The demo: a simulated cabinet, a broker, the agent and the collector as real processes.

``stack.py`` runs the parts (the end-to-end tests and the benchmarks use it too); ``run.py`` is the
README's first command.
"""
