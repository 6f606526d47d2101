"""The ``edge-agent`` console script: ``run`` skips the CLI framework (see ``run.py``)."""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["run"] and not {"--help", "-h"} & set(args):
        from edge_agent.cli.run import main as run_main

        raise SystemExit(run_main(args[1:]))
    from edge_agent.cli.main import main as cli_main

    cli_main()
