"""``collector command ...``: send a signed command to a gateway's device.

Exit codes: 0 handed to the broker (it keeps it for the gateway), 1 the broker could not be reached,
2 bad input (config, gateway, arguments)."""

from __future__ import annotations

import asyncio
import getpass
import json
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from collector.commands.send import Addressed, make_command, parse_args, parse_duration, publish_once
from collector.config import CollectorConfig, load_config
from collector.errors import ConfigError

command_app = typer.Typer(
    help="Commands to the street: signed by the centre's key, checked by the gateway before it runs them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


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
) -> None:
    """Sign a command and hand it to the broker for the gateway (QoS 1). Prints the command as JSON,
    its id first."""
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
        asyncio.run(
            publish_once(
                cfg.broker.host,
                cfg.broker.port,
                client_id=f"{cfg.collector_id}-cmd-{cmd.id.hex[:8]}",
                topic=where.topic,
                payload=payload,
                timeout_s=timeout_s,
            )
        )
    except (TimeoutError, OSError) as exc:
        _fail(f"broker {cfg.broker.host}:{cfg.broker.port} did not take the command: {exc or 'timeout'}", 1)
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
