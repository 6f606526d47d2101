"""What every ``edge-agent`` command shares: ``--format table|json``, quiet field-bus libraries, close
names for a misspelt one. The collector's CLI uses the same ``--format`` option."""

from __future__ import annotations

import difflib
import enum
import logging
from collections.abc import Iterable
from typing import Annotated

import typer


class Format(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table (for people) or json (for scripts)")]
JsonOpt = Annotated[bool, typer.Option("--json", hidden=True, help="deprecated: use --format json")]

# Libraries whose own log lines are not for a technician: pymodbus logs every failed request at ERROR
# (with hex dumps at DEBUG); asyncua warns about the session timeout the server granted on every
# connection. The commands say what went wrong themselves.
NOISY = ("pymodbus", "asyncua")


def chosen(fmt: Format, as_json: bool) -> Format:
    """The format asked for; ``--json`` (deprecated) still means ``--format json``."""
    if as_json:
        typer.echo("--json is deprecated: use --format json", err=True)
        return Format.JSON
    return fmt


def quiet_libraries() -> None:
    """Called once by the CLI entry (never at import): only CRITICAL from the field-bus libraries."""
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def unknown(what: str, name: str, known: Iterable[str]) -> str:
    """``no device 'lum-99'; close names: lum-09, lum-19`` (difflib), or the first known names."""
    names = sorted(set(known))
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
    if close:
        return f"unknown {what} {name!r}; close names: {', '.join(close)}"
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    return f"unknown {what} {name!r}; known: {shown or 'none'}"
