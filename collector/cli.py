"""``collector``: run the collector, check a config, read the store. Thin: work happens elsewhere.

Exit codes: 0 done; 1 ``query`` found no rows, or ``run`` failed; 2 bad arguments (a gateway, device or
point the store has never seen: close names are listed), bad config or a store that cannot be opened.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from collector.commands.cli import command_app
from collector.config import CollectorConfig, load_config
from collector.errors import CollectorError, ConfigError, StoreError
from collector.lighting.cli import lighting_app
from collector.query import (
    OutputFormat,
    format_outbox,
    format_quarantine,
    format_readings,
    format_ts,
    parse_period,
)
from collector.reports.cli import report_app
from collector.sinks.base import OutboxRecord, QuarantinedPayload, StoredReading

T = TypeVar("T")
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="The streetgate collector: stores gateway telemetry and confirms it.",
)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Collector config file (YAML).")]
StoreOption = Annotated[
    str | None, typer.Option("--store", help="Store URL: sqlite:///relative/path (instead of --config).")
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _load(path: Path) -> CollectorConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        _fail(str(exc))


def _store_url(config: Path | None, store: str | None) -> str:
    if (config is None) == (store is None):
        _fail("give exactly one of --config FILE or --store URL")
    return _load(config).store.url if config is not None else str(store)


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="Collector config file (YAML).")],
) -> None:
    """Run the collector until SIGTERM or SIGINT (logs to stderr)."""
    cfg = _load(config)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from collector.runtime import serve

    try:
        asyncio.run(serve(cfg))
    except CollectorError as exc:
        _fail(f"collector: {exc}", code=1)


@app.command("check-config")
def check_config(file: Annotated[Path, typer.Argument(help="Collector config file (YAML).")]) -> None:
    """Check a config file without connecting to anything; print a summary."""
    cfg = _load(file)
    from wire.topics import TopicKind, subscription

    b = cfg.broker
    typer.echo(f"OK {file}")
    typer.echo(f"  collector_id  {cfg.collector_id}")
    typer.echo(f"  broker        {b.host}:{b.port} (session kept {b.session_expiry_s} s)")
    site = cfg.subscription.site
    typer.echo(f"  subscription  {subscription(TopicKind.TELEMETRY, site, b.share_group)} (live)")
    typer.echo(
        f"                {subscription(TopicKind.BACKLOG, site, b.share_group)} "
        f"(backlog, client id {cfg.backlog_client_id})"
    )
    typer.echo(f"  store         {cfg.store.url}")
    typer.echo(
        f"  ingest        {cfg.ingest.max_messages_per_commit} messages per commit, "
        f"payloads up to {cfg.ingest.max_payload_bytes} bytes"
    )


@app.command()
def query(
    *,
    device: Annotated[str, typer.Option(help="Device name.")],
    point: Annotated[str, typer.Option(help="Point name.")],
    since: Annotated[str, typer.Option(help="Start: 30s, 15m, 1h, 2d ago, or ISO-8601 (UTC if no offset).")],
    gateway: Annotated[str | None, typer.Option(help="Only this gateway (default: all).")] = None,
    until: Annotated[str | None, typer.Option(help="End (exclusive), like --since (default: now).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows, oldest first.")] = 1000,
    fmt: FormatOption = OutputFormat.TABLE,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Print the stored readings of one point; exit 1 when none match."""
    url = _store_url(config, store)
    now = time.time_ns() // 1_000_000
    try:
        since_ms, until_ms = parse_period(since, until, now)
    except ValueError as exc:
        _fail(str(exc))
    rows = _read(
        _query(
            url,
            gateway=gateway,
            device=device,
            point=point,
            since_ms=since_ms,
            until_ms=until_ms,
            limit=limit,
        )
    )
    if not rows:
        unknown = _unknown(_read(_series(url)), gateway, device, point)
        if unknown:
            _fail(f"{unknown} in the store")
        who = f" of gateway {gateway}" if gateway else ""
        _fail(f"no readings of {device}/{point}{who} in [{format_ts(since_ms)}, {format_ts(until_ms)})", 1)
    typer.echo(format_readings(rows, fmt))


def _unknown(series: list[tuple[str, str, str]], gateway: str | None, device: str, point: str) -> str | None:
    """What the store has never seen (gateway, device or point), with close names; None if it has it."""
    if gateway is not None:
        gateways = {g for g, _, _ in series}
        if gateway not in gateways:
            return _close("gateway", gateway, gateways)
        series = [s for s in series if s[0] == gateway]
    devices = {d for _, d, _ in series}
    if device not in devices:
        return _close("device", device, devices)
    points = {p for _, d, p in series if d == device}
    return None if point in points else _close(f"point of {device}", point, points)


def _close(what: str, name: str, known: set[str]) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
    if close:
        return f"unknown {what} {name!r} (close names: {', '.join(close)})"
    more = ", ..." if len(names) > 10 else ""
    return f"unknown {what} {name!r} (known: {', '.join(names[:10]) or 'none'}{more})"


@app.command()
def quarantine(
    *,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    fmt: FormatOption = OutputFormat.TABLE,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """List quarantined payloads (time, topic, reason, size)."""
    rows = _read(_quarantined(_store_url(config, store), limit))
    if not rows and fmt is OutputFormat.TABLE:
        typer.echo("no quarantined payloads", err=True)
        return
    typer.echo(format_quarantine(rows, fmt))


@app.command()
def outbox(
    *,
    gateway: Annotated[str | None, typer.Option(help="Only this gateway's.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    fmt: FormatOption = OutputFormat.TABLE,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """List the command results and events gateways sent (time, gateway, kind, what, subject, key)."""
    rows = _read(_outbox(_store_url(config, store), gateway, limit))
    if not rows and fmt is OutputFormat.TABLE:
        typer.echo("no results or events", err=True)
        return
    typer.echo(format_outbox(rows, fmt))


def _read(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except StoreError as exc:
        _fail(str(exc))


async def _query(
    url: str, *, gateway: str | None, device: str, point: str, since_ms: int, until_ms: int, limit: int
) -> list[StoredReading]:
    from collector.sinks import open_sink

    sink = await open_sink(url, create=False)
    try:
        return await sink.query(
            gateway=gateway, device=device, point=point, since_ms=since_ms, until_ms=until_ms, limit=limit
        )
    finally:
        await sink.close()


async def _series(url: str) -> list[tuple[str, str, str]]:
    from collector.sinks import open_sink

    sink = await open_sink(url, create=False)
    try:
        return await sink.series()
    finally:
        await sink.close()


async def _quarantined(url: str, limit: int) -> list[QuarantinedPayload]:
    from collector.sinks import open_sink

    sink = await open_sink(url, create=False)
    try:
        return await sink.quarantined(limit)
    finally:
        await sink.close()


async def _outbox(url: str, gateway: str | None, limit: int) -> list[OutboxRecord]:
    from collector.sinks import open_outbox_store, open_sink

    sink = await open_sink(url, create=False)  # checks the store and brings its schema up to date
    try:
        store = await open_outbox_store(url)
    finally:
        await sink.close()
    try:
        return await store.messages(gateway=gateway, limit=limit)
    finally:
        await store.close()


app.add_typer(command_app, name="command")
app.add_typer(lighting_app, name="lighting")
app.add_typer(report_app, name="report")


@app.command()
def keygen(
    key_id: Annotated[str, typer.Option("--key-id", help="the centre key's name, e.g. centre-2027")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="private key file (default: /etc/streetgate/keys/<key-id>.key)"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing key file")] = False,
) -> None:
    """Make a key pair for signing commands: the private key goes to a file only its owner can read;
    the public-key line printed on stdout goes into every gateway's config.

    Exit 0 written, 2 bad key id or the file exists (without --force)."""
    from configfile.secrets import write_secret
    from wire.signing import new_key_texts

    path = out or Path("/etc/streetgate/keys") / f"{key_id}.key"
    try:
        private, public = new_key_texts(key_id)
        write_secret(path, private, replace=force)
    except (ValueError, OSError) as exc:
        _fail(f"keygen: {exc}")
    typer.echo(f"private key written to {path} (mode 600); the gateways' configs take:", err=True)
    typer.echo(public)


def main() -> None:
    app()
