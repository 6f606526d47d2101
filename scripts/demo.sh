#!/usr/bin/env bash
# Set up (venv, Mosquitto if missing) and run the demo: simulated cabinet -> agent -> broker ->
# collector -> SQLite store. Ctrl-C stops it; --for N runs N seconds unattended and checks the result.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m demo.run "$@"
