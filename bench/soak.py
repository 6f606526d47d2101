"""The fault suite at full durations: the table at the end of docs/guarantees.md.

Every scenario of ``tests/faults`` (the same code the tests run, there with durations scaled down)
runs the real stack — luminaire simulator, Mosquitto, collector(s), an agent whose commits are
recorded — injects its fault for the full duration, clears it, and compares what the agent committed
with what the store holds. A scenario whose checks fail is reported as FAILED with the reason, and the
script exits non-zero.

    .venv/bin/python -m bench.soak                   # full durations (about 70 minutes)
    .venv/bin/python -m bench.soak --ci              # the CI durations
    .venv/bin/python -m bench.soak --only broker_outage silent_partition
"""

from __future__ import annotations

import argparse
import functools
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness.faults import scenarios
from harness.faults.scenarios import CI, SOAK, Durations
from harness.faults.stack import TABLE_HEAD, Outcome

Scenario = Callable[[Path, Durations], Outcome]

SCENARIOS: dict[str, Scenario] = {
    "broker_outage": scenarios.broker_outage,
    "broker_restarts": scenarios.broker_restarts,
    "broker_restart_collector_down": scenarios.broker_restart_collector_down,
    "collector_killed_during_ingest": scenarios.collector_killed_during_ingest,
    "collector_killed_between_commit_and_confirm": scenarios.collector_killed_between_commit_and_confirm,
    "shared_collectors": scenarios.shared_collectors,
    "agent_killed_repeatedly": scenarios.agent_killed_repeatedly,
    "silent_partition": scenarios.silent_partition,
    "slow_store": scenarios.slow_store,
    "buffer_full_drop_oldest": functools.partial(scenarios.buffer_full, when_full="drop_oldest"),
    "buffer_full_thin": functools.partial(scenarios.buffer_full, when_full="thin"),
    "disk_full": scenarios.disk_full,
    "clock_steps_back": scenarios.clock_steps_back,
    "malformed_payloads": scenarios.malformed_payloads,
    # Expected to show loss (its row says how much): proof that the comparison can see one.
    "negative_control": scenarios.negative_control,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ci", action="store_true", help="the scaled-down durations the tests use")
    ap.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), help="run these scenarios only")
    args = ap.parse_args()
    durations = CI if args.ci else SOAK
    names = args.only or list(SCENARIOS)
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"durations: {durations}")
    rows: list[str] = []
    failed = 0
    for name in names:
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"soak-{name}-") as tmp:
            try:
                outcome = SCENARIOS[name](Path(tmp), durations)
            except AssertionError as exc:
                failed += 1
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                rows.append(f"| {name} | FAILED: {reason} |")
                print(f"{name}: FAILED after {time.monotonic() - t0:.0f} s: {exc}", file=sys.stderr)
                continue
        rows.append(outcome.row())
        print(f"{name}: {time.monotonic() - t0:.0f} s; {outcome.notes or 'ok'}", flush=True)
    print()
    print(TABLE_HEAD)
    print("\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
