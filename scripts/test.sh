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
.venv/bin/pytest "$@"
