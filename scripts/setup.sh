#!/usr/bin/env bash
# Set up a machine for streetgate: Mosquitto (apt-get, only where missing) and a venv with the
# project and its dev tools in .venv. Safe to run again; prints what it does.
set -euo pipefail
cd "$(dirname "$0")/.."

have_mosquitto() { command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; }
if ! have_mosquitto; then
  echo "setup: installing mosquitto with apt-get"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mosquitto >/dev/null
  # The tests and the demo start their own broker on a free port; the packaged service is not needed.
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import configfile, wire, lighting, astral, mqtt_session, simulators, edge_agent, collector, drivers, pytest, xdist, mypy" >/dev/null 2>&1 \
   || [ pyproject.toml -nt .venv/.installed ]; then
  echo "setup: installing streetgate and its dev tools into .venv"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e ".[dev]"
  touch .venv/.installed
fi
