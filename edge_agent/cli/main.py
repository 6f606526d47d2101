"""``edge-agent``: run the agent, check a config, look into the buffer.

Exit codes: 0 ok, 1 the thing asked about is not there or not healthy, 2 bad input (config, arguments).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import sys
from pathlib import Path
from typing import Annotated

import typer

from edge_agent.cli.lighting import lighting_app
from edge_agent.cli.output import Format, FormatOpt, JsonOpt, chosen, quiet_libraries
from edge_agent.cli.scan import scan_app
from edge_agent.config.load import ConfigError, ResolvedConfig, load_config
from edge_agent.counters import RENAMED

app = typer.Typer(
    help="streetgate edge agent: polls a cabinet's field devices, buffers every reading durably and "
    "forwards it to the control room over MQTT.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(scan_app, name="scan")
app.add_typer(lighting_app, name="lighting")

DEFAULT_CONFIG = Path("/etc/streetgate/agent.yaml")
DEFAULT_KEYS = Path("/etc/streetgate/keys")
ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="agent config (YAML)")]


@app.callback()
def _entry(ctx: typer.Context) -> None:
    """Before every command but ``run`` (which sets up its own logging): quiet field-bus libraries."""
    if ctx.invoked_subcommand != "run":
        quiet_libraries()


def _load(path: Path) -> ResolvedConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(f"config error:\n{exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def run(
    config: ConfigOpt,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")] = "INFO",
) -> None:
    """Run the agent until SIGTERM or Ctrl-C."""
    from edge_agent.cli.run import start

    code = start(config, log_level)
    if code:
        raise typer.Exit(code)


@app.command()
def flush(
    config: ConfigOpt = DEFAULT_CONFIG,
    timeout: Annotated[float, typer.Option(help="give up after this many seconds")] = 120.0,
) -> None:
    """Deliver everything waiting in the buffer to the centre, without polling; exit 1 if some is left.

    Use it before swapping a gateway or its SD card (stop the agent service first).
    """
    cfg = _load(config)
    logging.basicConfig(level="WARNING", stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    from edge_agent.service import flush_buffer

    left = asyncio.run(flush_buffer(cfg, timeout))
    if left:
        typer.echo(f"{left} readings are still in the buffer after {timeout:g} s", err=True)
        raise typer.Exit(1)
    typer.echo("buffer empty: every reading is confirmed by the collector")


@app.command("check-config")
def check_config(path: Annotated[Path, typer.Argument(help="agent config (YAML)")]) -> None:
    """Check a config without touching any device or broker; exit 2 on any error."""
    cfg = _load(path)
    devices = cfg.devices
    points = sum(len(d.points) for d in devices)
    typer.echo(
        f"OK: gateway {cfg.config.gateway} at site {cfg.config.site}: {len(cfg.buses)} bus(es), "
        f"{len(devices)} device(s), {points} point(s); buffer {cfg.buffer_path}"
    )


@app.command()
def buffer(
    config: ConfigOpt = DEFAULT_CONFIG,
    fmt: FormatOpt = Format.TABLE,
    as_json: JsonOpt = False,
) -> None:
    """Show what waits in the buffer (works with or without a running agent)."""
    cfg = _load(config)
    if not cfg.buffer_path.exists():
        typer.echo(f"no buffer at {cfg.buffer_path}", err=True)
        raise typer.Exit(1)
    db = sqlite3.connect(f"file:{cfg.buffer_path}?mode=ro", uri=True, timeout=5)
    try:
        info = {
            "path": str(cfg.buffer_path),
            "epoch": db.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()[0],
            **_waiting(db),
            "dead_letter_batches": db.execute("SELECT COUNT(*) FROM dead_letter").fetchone()[0],
            **{str(RENAMED.get(n, n)): v for n, v in db.execute("SELECT name, value FROM counters")},
        }
    finally:
        db.close()
    if chosen(fmt, as_json) is Format.JSON:
        typer.echo(json.dumps(info))
    else:
        for k, v in info.items():
            typer.echo(f"{k:24} {v}")


def _waiting(db: sqlite3.Connection) -> dict[str, int]:
    """What waits: readings in the open backlog group, and the units to send (buffer schema 3; a file
    of an older schema, not yet upgraded by an agent, is read as it is)."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'chunks'").fetchone() is None:
        sealed = db.execute("SELECT COUNT(*), COALESCE(SUM(readings), 0) FROM batches").fetchone()
        unsealed = db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
    else:
        group = int(db.execute("SELECT value FROM meta WHERE key = 'open_group'").fetchone()[0])
        sealed = db.execute(
            "SELECT COUNT(DISTINCT grp), COALESCE(SUM(readings), 0) FROM chunks WHERE grp != ?", (group,)
        ).fetchone()
        unsealed = db.execute(
            "SELECT COALESCE(SUM(readings), 0) FROM chunks WHERE grp = ?", (group,)
        ).fetchone()[0]
    return {
        "unsealed_readings": unsealed,
        "unconfirmed_batches": sealed[0],
        "unconfirmed_readings": sealed[1],
    }


@app.command()
def status(
    config: ConfigOpt = DEFAULT_CONFIG,
    fmt: FormatOpt = Format.TABLE,
    as_json: JsonOpt = False,
) -> None:
    """The running agent's state: uplink, buffer, devices and their bad points.

    Exit 1 if no agent runs, 3 if degraded (a device offline or with bad points, the uplink down).
    """
    from edge_agent.cli.live import status_command

    raise typer.Exit(status_command(_load(config), chosen(fmt, as_json)))


@app.command()
def read(
    device: Annotated[str, typer.Argument(help="device name, as in the config")],
    point: Annotated[str | None, typer.Argument(help="one point only")] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    fmt: FormatOpt = Format.TABLE,
    as_json: JsonOpt = False,
) -> None:
    """Read a device now. Goes through the running agent's bus if one runs, else opens the bus itself.

    Exit 0 all points good, 1 the device did not answer, 2 unknown device or point, 3 some points bad.
    """
    from edge_agent.cli.live import read_command

    raise typer.Exit(read_command(_load(config), device, point, chosen(fmt, as_json)))


@app.command()
def keygen(
    key_id: Annotated[str, typer.Option("--key-id", help="the name this gateway's key is registered under")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="private key file (default: /etc/streetgate/keys/<key-id>.key)"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing key file")] = False,
) -> None:
    """Make the gateway's key pair for signing command results: the private key goes to a file only
    root can read; the public-key line printed on stdout goes into the collector's config.

    Exit 0 written, 2 bad key id or the file exists (without --force)."""
    from configfile.secrets import write_secret
    from wire.signing import new_key_texts

    path = out or DEFAULT_KEYS / f"{key_id}.key"
    try:
        private, public = new_key_texts(key_id)
        write_secret(path, private, replace=force)
    except (ValueError, OSError) as exc:
        typer.echo(f"keygen: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"private key written to {path} (mode 600); the collector's config takes:", err=True)
    typer.echo(public)


def main() -> None:
    app()
