"""``python -m collector``: the same as the ``collector`` console script."""

from collector.cli import main

main()
