"""``collector lighting ...``: push a program set, roll back to an earlier one, see what each gateway runs.

Exit codes: ``push`` and ``rollback``: 0 the broker took the set for every gateway (with ``--wait``: every
gateway installed it), 1 the broker could not be reached (with ``--wait``: a gateway refused it or did
not answer in time), 2 bad input (config, file, gateway). ``status``: 0, 2 bad input."""

from __future__ import annotations

import asyncio
import getpass
import json
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from collector.config import CollectorConfig, load_config
from collector.errors import ConfigError, StoreError
from collector.lighting.push import PushOutcome, SetError, load_set, push_set
from collector.lighting.status import GatewayLighting, read_status, wait_for_outcome
from collector.sinks import open_lighting, open_sink
from wire.events import EventKind

lighting_app = typer.Typer(
    help="Street-lighting program sets: signed by the centre, run by each gateway even without the centre.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Collector config file (YAML).")]
GatewayOpt = Annotated[list[str] | None, typer.Option("--gateway", "-g", help="a gateway (repeat for more)")]
SiteOpt = Annotated[str | None, typer.Option("--site", "-s", help="every gateway of this site")]
WaitOpt = Annotated[
    float | None,
    typer.Option("--wait", help="seconds to wait for each gateway's answer (installed or refused)"),
]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _config(path: Path) -> CollectorConfig:
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        _fail(str(exc))
    if cfg.commands is None:
        _fail(f"{path}: no commands: section (the centre's key signs program sets as it signs commands)")
    return cfg


def _targets(cfg: CollectorConfig, gateways: list[str] | None, site: str | None) -> list[str]:
    assert cfg.commands is not None
    known = cfg.commands.gateways
    if bool(gateways) == (site is not None):
        _fail("name the gateways (--gateway G, repeatable) or a site (--site S), not both")
    if site is not None:
        found = sorted(g for g, t in known.items() if t.site == site)
        if not found:
            _fail(f"no gateway of site {site!r} in commands.gateways")
        return found
    unknown = [g for g in gateways or [] if g not in known]
    if unknown:
        _fail(
            f"unknown gateway {unknown[0]!r} (commands.gateways lists: {', '.join(sorted(known)) or 'none'})"
        )
    return list(gateways or [])


def _send(
    cfg: CollectorConfig,
    config: Path,
    raw: dict[str, Any],
    targets: list[str],
    *,
    rollback: bool,
    wait: float | None,
) -> None:
    assert cfg.commands is not None
    try:
        signer = cfg.commands.signer(config.parent.resolve())
    except ValueError as exc:
        _fail(str(exc))
    since = time.time_ns() // 1_000_000
    try:
        outcomes = asyncio.run(
            push_set(cfg, signer, raw, gateways=targets, issuer=getpass.getuser(), rollback=rollback)
        )
    except StoreError as exc:
        _fail(f"collector: {exc}", 1)
    for o in outcomes:
        typer.echo(json.dumps(_outcome(o)))
    if any(o.error for o in outcomes):
        _fail("the broker did not take the set for every gateway", 1)
    if wait is None:
        return
    answers = asyncio.run(wait_for_outcome(cfg, targets, int(raw["version"]), since_ms=since, timeout_s=wait))
    failed = False
    for gateway, answer in answers.items():
        typer.echo(json.dumps({"gateway": gateway, **answer}))
        failed |= answer["state"] != "installed"
    if failed:
        raise typer.Exit(1)


def _outcome(o: PushOutcome) -> dict[str, object]:
    return {
        "gateway": o.gateway,
        "version": o.version,
        "topic": o.topic,
        "sent": o.error is None,
        "error": o.error,
    }


@lighting_app.command()
def push(
    file: Annotated[
        Path, typer.Argument(help="the program set (YAML: version, programs, calendars, assign)")
    ],
    *,
    config: ConfigOpt,
    gateway: GatewayOpt = None,
    site: SiteOpt = None,
    wait: WaitOpt = None,
) -> None:
    """Check the set whole, sign it for each gateway and publish it retained. A gateway installs it only
    if its version is newer than the one it runs; it reports lighting_installed or lighting_refused."""
    cfg = _config(config)
    targets = _targets(cfg, gateway, site)
    try:
        raw = load_set(file)
    except SetError as exc:
        _fail(str(exc))
    _send(cfg, config, raw, targets, rollback=False, wait=wait)


@lighting_app.command()
def rollback(
    *,
    config: ConfigOpt,
    to: Annotated[int, typer.Option("--to", help="the version to return to (pushed to that gateway before)")],
    gateway: GatewayOpt = None,
    site: SiteOpt = None,
    wait: WaitOpt = None,
) -> None:
    """Re-sign an earlier version, as a rollback (the gateway takes it though it is not newer)."""
    cfg = _config(config)
    targets = _targets(cfg, gateway, site)

    async def earlier() -> dict[str, dict[str, Any]]:
        """Per gateway, version ``to`` as that gateway installed it (a push it refused is no candidate)."""
        sink = await open_sink(cfg.store.url, create=False)
        await sink.close()
        store = await open_lighting(cfg.store.url)
        try:
            found = {}
            for g in targets:
                installed = {
                    e.details.get("issued_at_ms")
                    for e in await store.events(g, limit=1000)
                    if e.kind is EventKind.LIGHTING_INSTALLED and e.details.get("version") == to
                }
                ran = [p for p in await store.pushes(g, version=to) if p.issued_at_ms in installed]
                if ran:
                    found[g] = ran[0].program_set
            return found
        finally:
            await store.close()

    try:
        found = asyncio.run(earlier())
    except StoreError as exc:
        _fail(f"collector: {exc}")
    missing = [g for g in targets if g not in found]
    if missing:
        _fail(f"version {to} was never installed by {', '.join(missing)}: nothing to return to")
    sets = {json.dumps(s, sort_keys=True) for s in found.values()}
    if len(sets) > 1:
        _fail(f"version {to} differs between these gateways: roll them back one at a time")
    _send(cfg, config, next(iter(found.values())), targets, rollback=True, wait=wait)


@lighting_app.command()
def status(
    *,
    config: ConfigOpt,
    gateway: GatewayOpt = None,
    site: SiteOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """Each gateway: the version last pushed, the version it runs (and since when), its last refusal, and
    what each group is doing now (level and why), as the gateway last reported."""
    cfg = _config(config)
    assert cfg.commands is not None
    targets = _targets(cfg, gateway, site) if gateway or site else sorted(cfg.commands.gateways)
    try:
        rows = asyncio.run(read_status(cfg, targets))
    except StoreError as exc:
        _fail(f"collector: {exc}")
    if fmt == "json":
        typer.echo(json.dumps([r.as_json() for r in rows]))
        return
    for r in rows:
        typer.echo(_line(r))
        for group, level in sorted(r.levels.items()):
            typer.echo(f"    {group}: {level['level']} %  ({level['reason']})")


def _line(r: GatewayLighting) -> str:
    pushed = f"v{r.pushed_version}" if r.pushed_version is not None else "nothing"
    running = f"v{r.running_version}" if r.running_version is not None else "no set reported"
    refused = f"; last refused: {r.refused_reason}" if r.refused_reason else ""
    return f"{r.gateway}: pushed {pushed}, runs {running}{refused}"
