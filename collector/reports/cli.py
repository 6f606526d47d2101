"""``collector report energy|availability``: the centre's reports, read from the store.

Exit codes: 0 printed; 1 the store has nothing for the site in the period; 2 bad input (config without
``reports:``, an unknown site, a bad time, a store that cannot be opened).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from collector.config import load_config
from collector.errors import ConfigError, ReportError, StoreError
from collector.query import OutputFormat, parse_period
from collector.reports.availability import by_gateway_and_class
from collector.reports.config import ReportsConfig
from collector.reports.energy import By, totals
from collector.reports.output import format_availability, format_energy
from collector.reports.read import Period, availability_rows, energy_rows, site_of
from collector.sinks import open_sink
from collector.sinks.base import Sink

T = TypeVar("T")
report_app = typer.Typer(
    help="Reports from the store: energy against the old installation, availability.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Collector config file (YAML).")]
SiteOpt = Annotated[str, typer.Option("--site", "-s", help="The site (reports.sites).")]
SinceOpt = Annotated[
    str, typer.Option(help="Start: 30d, 12h ago, or ISO-8601 (UTC if no offset).", show_default=True)
]
UntilOpt = Annotated[str | None, typer.Option(help="End (exclusive), like --since (default: now).")]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _setup(config: Path, site: str, since: str, until: str | None) -> tuple[ReportsConfig, str, Period]:
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        _fail(str(exc))
    if cfg.reports is None:
        _fail(f"{config}: no reports: section (sites, baselines, device classes)")
    try:
        site_of(cfg.reports, site)
    except ReportError as exc:
        _fail(f"{config}: {exc}")
    now = time.time_ns() // 1_000_000
    try:
        since_ms, until_ms = parse_period(since, until, now)
    except ValueError as exc:
        _fail(str(exc))
    return cfg.reports, cfg.store.url, Period(since_ms, until_ms)


def _run(url: str, work: Callable[[Sink], Awaitable[T]]) -> T:
    async def go() -> T:
        sink = await open_sink(url, create=False)
        try:
            return await work(sink)
        finally:
            await sink.close()

    try:
        return asyncio.run(go())
    except (StoreError, ReportError) as exc:
        _fail(str(exc))


@report_app.command()
def energy(
    *,
    site: SiteOpt,
    config: ConfigOpt,
    since: SinceOpt = "30d",
    until: UntilOpt = None,
    by: Annotated[By, typer.Option(help="One row per luminaire, cabinet or the site.")] = By.SITE,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """kWh used (from the luminaires' D4i counters), kWh of the installation before renovation, saving %."""
    cfg, url, period = _setup(config, site, since, until)
    rows = _run(url, lambda sink: energy_rows(sink, cfg, site, period))
    if not rows:
        _fail(f"no luminaire of site {site!r} has {cfg.energy.point} readings in the store", 1)
    typer.echo(format_energy(rows, totals(rows, by, site), by, fmt))


@report_app.command()
def availability(
    *,
    site: SiteOpt,
    config: ConfigOpt,
    since: SinceOpt = "30d",
    until: UntilOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Per gateway and device class: hours answering over hours expected (expected: per class)."""
    cfg, url, period = _setup(config, site, since, until)
    rows, unclassified = _run(url, lambda sink: availability_rows(sink, cfg, site, period))
    if unclassified:
        more = ", ..." if len(unclassified) > 5 else ""
        typer.echo(
            f"{len(unclassified)} devices in no class (reports.availability.classes), left out: "
            f"{', '.join(unclassified[:5])}{more}",
            err=True,
        )
    if not rows:
        _fail(f"no classified device of site {site!r} has {cfg.availability.point} readings in the store", 1)
    typer.echo(format_availability(by_gateway_and_class(rows), cfg.availability.slot_s, fmt))
