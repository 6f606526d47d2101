"""``collector command ...``: send a signed command to a gateway's device.

Exit codes: ``send``: 0 handed to the broker (with ``--wait``: done), 1 the broker could not be reached
(with ``--wait``: any other outcome, or no result by expiry), 2 bad input (config, gateway, arguments).
``list`` and ``show``: 0, 2 unknown command or bad input."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from collector.commands.api import BadCommand, CommandCentre, NotSent
from collector.commands.send import parse_args, parse_duration
from collector.config import load_config
from collector.errors import ConfigError, StoreError
from collector.sinks.sqlite_audit import Audited
from wire.commands import ResultState

command_app = typer.Typer(
    help="Commands to the street: signed by the centre's key, checked by the gateway before it runs them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
T = TypeVar("T")


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


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


def _centre(path: Path) -> CommandCentre:
    try:
        return CommandCentre(load_config(path), base=path.parent.resolve())
    except ConfigError as exc:
        _fail(str(exc))


def _run(work: Coroutine[Any, Any, T], *, store_code: int = 2) -> T:
    """Run one of the centre's operations; a store error exits ``store_code``, bad input 2."""
    try:
        return asyncio.run(work)
    except StoreError as exc:
        _fail(f"collector: {exc}", store_code)
    except BadCommand as exc:
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
    centre = _centre(config)
    try:
        where = centre.address(gateway)
        args = parse_args(arg or [])
        valid_s = parse_duration(expires) if expires else centre.commands.default_expiry_s
    except ValueError as exc:  # BadCommand among them
        _fail(str(exc))
    sending = centre.send(
        gateway, device, action, args, expires_s=valid_s, issuer=issuer, timeout_s=timeout_s
    )
    try:
        cmd = _run(sending, store_code=1)
    except NotSent as exc:
        broker = f"{centre.config.broker.host}:{centre.config.broker.port}"
        _fail(f"broker {broker} did not take the command: {exc.reason}", 1)
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
        audited = _run(centre.wait(cmd.id), store_code=1)
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
    centre = _centre(config)
    try:
        since_ms = _now_ms() - round(parse_duration(since) * 1000)
    except ValueError as exc:
        _fail(f"--since: {exc}")
    rows = _run(centre.listing(gateway=gateway, since_ms=since_ms))
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
    found = _run(_centre(config).show(command_id))
    if found is None:
        _fail(f"no command {command_id!r} in the audit")
    typer.echo(json.dumps(_as_json(found, _now_ms()), indent=1))
