"""The fault scenarios: each starts the real stack, injects one fault, clears it, and compares the ends.

Each function takes a working folder and :class:`Durations` and returns an :class:`Outcome`. The tests
in tests/faults run them with :data:`CI` (scaled down: the suite stays within a few minutes) and assert;
``bench/soak.py`` runs them with :data:`SOAK` (full durations) and prints the table in
docs/guarantees.md. The checks a scenario needs beyond the comparison (a drop that must be counted, a
loss a kill may cost) are made here, so both runs make them.
"""

from harness.faults.scenarios.agent import agent_killed_repeatedly, clock_steps_back
from harness.faults.scenarios.bounds import buffer_full, disk_full, thinned_only_measurements
from harness.faults.scenarios.broker import broker_outage, broker_restart_collector_down, broker_restarts
from harness.faults.scenarios.collector import (
    collector_killed_between_commit_and_confirm,
    collector_killed_during_ingest,
    shared_collectors,
    slow_store,
)
from harness.faults.scenarios.common import CI, SOAK, Durations
from harness.faults.scenarios.network import silent_partition
from harness.faults.scenarios.payloads import malformed_payloads, negative_control

__all__ = [
    "CI",
    "SOAK",
    "Durations",
    "agent_killed_repeatedly",
    "broker_outage",
    "broker_restart_collector_down",
    "broker_restarts",
    "buffer_full",
    "clock_steps_back",
    "collector_killed_between_commit_and_confirm",
    "collector_killed_during_ingest",
    "disk_full",
    "malformed_payloads",
    "negative_control",
    "shared_collectors",
    "silent_partition",
    "slow_store",
    "thinned_only_measurements",
]
