"""``collector command ...``: send a signed command to a gateway's device.

Exit codes: ``send``: 0 handed to the broker (with ``--wait``: done), 1 the broker could not be reached
(with ``--wait``: any other outcome, or no result by expiry), 2 bad input (config, gateway, arguments).
``list`` and ``show``: 0, 2 unknown command or bad input."""

from __future__ import annotations

import asyncio
import getpass
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from collector.commands.send import Addressed, make_command, parse_args, parse_duration, publish_once
from collector.config import CollectorConfig, load_config
from collector.errors import ConfigError, StoreError
from collector.sinks import open_audit, open_sink
from collector.sinks.sqlite_audit import Audited, SqliteAudit
from wire.commands import Command, ResultState

WAIT_GRACE_S = 5.0  # --wait: how long after the expiry a late result is still waited for
POLL_S = 0.2

command_app = typer.Typer(
    help="Commands to the street: signed by the centre's key, checked by the gateway before it runs them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


@dataclass(frozen=True, slots=True)
class _Sent:
    error: str | None
    audited: Audited | None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def _send_and_audit(
    cfg: CollectorConfig, cmd: Command, payload: bytes, *, topic: str, timeout_s: float, wait_s: float | None
) -> _Sent:
    """Record the command, publish it, record that the broker took it (or why not); with ``wait_s``,
    wait for its final state (the collector that runs stores the gateway's results) that long at most."""
    sink = await open_sink(cfg.store.url)  # creates or migrates the store's schema
    await sink.close()
    audit = await open_audit(cfg.store.url)
    try:
        await audit.record(cmd)
        try:
            await publish_once(
                cfg.broker.host,
                cfg.broker.port,
                client_id=f"{cfg.collector_id}-cmd-{cmd.id.hex[:8]}",
                topic=topic,
                payload=payload,
                timeout_s=timeout_s,
            )
        except (TimeoutError, OSError) as exc:
            reason = str(exc) or "timeout"
            await audit.send_failed(cmd.id, reason)
            return _Sent(reason, None)
        await audit.sent(cmd.id, _now_ms())
        audited = await audit.get(str(cmd.id))
        if wait_s is not None:
            deadline = time.monotonic() + wait_s
            while (audited is None or audited.final is None) and time.monotonic() < deadline:
                await asyncio.sleep(POLL_S)
                audited = await audit.get(str(cmd.id))
        return _Sent(None, audited)
    finally:
        await audit.close()


def _as_json(a: Audited, now_ms: int) -> dict[str, object]:
    return {
        "id": a.id,
        "status": a.status(now_ms),
        "gateway": a.gateway,
        "device": a.device,
        "action": a.action,
        "args": a.args,
        "issuer": a.issuer,
        "key_id": a.key_id,
        "issued_at_ms": a.issued_at_ms,
        "expires_at_ms": a.expires_at_ms,
        "sent_at_ms": a.sent_at_ms,
        "send_error": a.send_error,
        "states": [
            {
                "state": s.state.value,
                "at_ms": s.at_ms,
                "reason": s.reason,
                "read_back": [{"point": r.point, "value": r.value, "ts_ms": r.ts_ms} for r in s.read_back],
            }
            for s in a.states
        ],
    }


def _config(path: Path) -> CollectorConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        _fail(str(exc))


@command_app.command()
def send(
    *,
    config: Annotated[Path, typer.Option("--config", "-c", help="Collector config file (YAML).")],
    gateway: Annotated[str, typer.Option("--gateway", "-g", help="the gateway the device is behind")],
    device: Annotated[str, typer.Option("--device", "-d", help="the device, as the gateway names it")],
    action: Annotated[str, typer.Option("--action", "-a", help="an action of the device's profile")],
    arg: Annotated[list[str] | None, typer.Option("--arg", help="name=value (repeat for more)")] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="valid for this long, e.g. 30s, 5m (config default)")
    ] = None,
    issuer: Annotated[
        str | None, typer.Option("--issuer", help="who asks, for the audit (default: the OS user)")
    ] = None,
    timeout_s: Annotated[float, typer.Option("--timeout", help="seconds to reach the broker")] = 10.0,
    wait: Annotated[
        bool, typer.Option("--wait", help="wait for the final state (exit 0 only on done)")
    ] = False,
) -> None:
    """Sign a command, record it in the audit and hand it to the broker for the gateway (QoS 1). Prints
    the command as JSON; with --wait, then its audit once it has a final state or its expiry passed."""
    cfg = _config(config)
    commands = cfg.commands
    if commands is None:
        _fail(f"{config}: no commands: section (the centre's key_id and key_file, the gateways' keys)")
    target = commands.gateways.get(gateway)
    if target is None:
        known = ", ".join(sorted(commands.gateways)) or "none"
        _fail(f"unknown gateway {gateway!r} (commands.gateways lists: {known})")
    try:
        args = parse_args(arg or [])
        valid_s = parse_duration(expires) if expires else commands.default_expiry_s
        signer = commands.signer(config.parent.resolve())
        cmd, payload = make_command(
            signer=signer,
            gateway=gateway,
            device=device,
            action=action,
            args=args,
            issuer=issuer or getpass.getuser(),
            now_ms=time.time_ns() // 1_000_000,
            expires_s=valid_s,
        )
    except ValueError as exc:
        _fail(str(exc))
    where = Addressed(target.site, gateway)
    try:
        sent = asyncio.run(
            _send_and_audit(
                cfg,
                cmd,
                payload,
                topic=where.topic,
                timeout_s=timeout_s,
                wait_s=(valid_s + WAIT_GRACE_S) if wait else None,
            )
        )
    except StoreError as exc:
        _fail(f"collector: {exc}", 1)
    if sent.error is not None:
        _fail(f"broker {cfg.broker.host}:{cfg.broker.port} did not take the command: {sent.error}", 1)
    typer.echo(
        json.dumps(
            {
                "id": str(cmd.id),
                "gateway": gateway,
                "device": device,
                "action": action,
                "args": args,
                "issuer": cmd.issuer,
                "key_id": cmd.key_id,
                "issued_at_ms": cmd.issued_at_ms,
                "expires_at_ms": cmd.expires_at_ms,
                "topic": where.topic,
            }
        )
    )
    if wait:
        audited = sent.audited
        status = audited.status(_now_ms()) if audited else "unknown"
        typer.echo(json.dumps(_as_json(audited, _now_ms())) if audited else status)
        if status != ResultState.DONE.value:
            raise typer.Exit(1)


@command_app.command("list")
def list_(
    *,
    config: Annotated[Path, typer.Option("--config", "-c", help="Collector config file (YAML).")],
    gateway: Annotated[str | None, typer.Option("--gateway", "-g", help="one gateway's commands")] = None,
    since: Annotated[str, typer.Option("--since", help="issued within this long, e.g. 1h, 30m")] = "1h",
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """The audit: commands sent, newest first, each with its status (final state, or what is known)."""
    cfg = _config(config)
    try:
        since_ms = _now_ms() - round(parse_duration(since) * 1000)
    except ValueError as exc:
        _fail(f"--since: {exc}")
    rows = _audit_read(cfg, lambda audit: audit.listing(gateway=gateway, since_ms=since_ms))
    now = _now_ms()
    if fmt == "json":
        typer.echo(json.dumps([_as_json(a, now) for a in rows]))
        return
    if not rows:
        typer.echo("no commands in that time", err=True)
        return
    for a in rows:
        args = " ".join(f"{k}={v}" for k, v in a.args.items())
        typer.echo(f"{a.id}  {a.gateway}/{a.device}  {a.action} {args}  by {a.issuer}  {a.status(now)}")


@command_app.command()
def show(
    command_id: Annotated[str, typer.Argument(help="the command's id")],
    *,
    config: Annotated[Path, typer.Option("--config", "-c", help="Collector config file (YAML).")],
) -> None:
    """One command's audit: what was asked, by whom, with which key, and every state with its time."""
    cfg = _config(config)
    found = _audit_read(cfg, lambda audit: audit.get(command_id))
    if found is None:
        _fail(f"no command {command_id!r} in the audit")
    typer.echo(json.dumps(_as_json(found, _now_ms()), indent=1))


T = TypeVar("T")


def _audit_read(cfg: CollectorConfig, read: Callable[[SqliteAudit], Awaitable[T]]) -> T:
    async def run() -> T:
        sink = await open_sink(cfg.store.url, create=False)
        await sink.close()
        audit = await open_audit(cfg.store.url)
        try:
            return await read(audit)
        finally:
            await audit.close()

    try:
        return asyncio.run(run())
    except StoreError as exc:
        _fail(f"collector: {exc}")
