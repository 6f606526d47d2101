"""``edge-agent run`` without the CLI framework.

The agent process lives for months on a gateway with little RAM; typer and its dependencies cost
about 4 MB of it for a command line that is parsed once. So ``edge-agent run`` is dispatched here by
``entry.py`` (argparse, stdlib), and every other command, ``run --help`` included, goes through typer.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from edge_agent.clock import Clock
from edge_agent.config.load import ConfigError, load_config

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def start(config: Path, log_level: str, clock: Clock | None = None) -> int:
    """Load the config (exit code 2 on any error), set up logging, run until SIGTERM/SIGINT.

    ``clock``: the agent's time (the system's by default; the fault suite steps a wall clock back)."""
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        sys.stderr.write(f"config error:\n{exc}\n")
        return 2
    level = log_level.upper()
    if level not in LEVELS:
        sys.stderr.write(f"--log-level {log_level!r}: use one of {', '.join(LEVELS)}\n")
        return 2
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if level != "DEBUG":
        # pymodbus logs every failed request at ERROR on its own; the poller logs a failing device once.
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
        logging.getLogger("asyncua").setLevel(logging.CRITICAL)  # the OPC-UA driver logs what matters
    from edge_agent.service import run_agent

    return asyncio.run(run_agent(cfg, clock))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="edge-agent run", description="Run the agent until SIGTERM or Ctrl-C."
    )
    parser.add_argument("--config", "-c", type=Path, required=True, help="agent config (YAML)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    return start(args.config, args.log_level)
