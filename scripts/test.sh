#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run every check: ruff, mypy (strict), pytest. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy (strict)"
.venv/bin/mypy configfile wire lighting mqtt_session edge_agent collector drivers simulators tests bench demo harness
echo "== pytest"
# Two workers by default (the suite waits on servers and timers more than it computes); a file's tests
# stay on one worker. PYTEST_WORKERS=0 runs everything in this process.
workers=${PYTEST_WORKERS:-2}
if [ "$workers" = 0 ]; then
  .venv/bin/pytest "$@"
else
  .venv/bin/pytest -n "$workers" --dist loadfile "$@"
fi
