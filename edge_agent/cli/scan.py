"""``edge-agent scan``: find what answers on a line, before a config exists."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the Modbus stack is imported only when a scan runs
    from drivers.modbus.scan import Probe, SerialTarget, TcpTarget
    from drivers.opcua.scan import BrowsedNode

scan_app = typer.Typer(
    help="Find devices: which Modbus unit ids answer; what an OPC-UA server offers.", no_args_is_help=True
)


@scan_app.command("modbus")
def scan_modbus(  # noqa: PLR0917 - typer maps each option to a parameter
    host: Annotated[str | None, typer.Option(help="TCP gateway address (instead of --port)")] = None,
    tcp_port: Annotated[int, typer.Option(help="TCP port with --host")] = 502,
    port: Annotated[
        str | None, typer.Option(help="serial line, e.g. /dev/ttyUSB0 (instead of --host)")
    ] = None,
    baud: Annotated[int, typer.Option(help="serial baud rate")] = 19200,
    parity: Annotated[str, typer.Option(help="serial parity: N, E or O")] = "E",
    units: Annotated[str, typer.Option(help="unit ids to try: 1-247, or 1,5,7-9")] = "1-247",
    register: Annotated[int, typer.Option(help="holding register each probe reads")] = 0,
    timeout: Annotated[float, typer.Option(help="seconds to wait for each unit")] = 0.3,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Probe unit ids one at a time; list those that answer. Exit 0 if any did, 1 if none, 2 bad input.

    Stop the agent first if it uses the same serial line: a scan never shares a line with it.
    """
    from drivers.errors import DeviceUnreachable
    from drivers.modbus.scan import SerialTarget, TcpTarget, parse_units

    if (host is None) == (port is None):
        typer.echo("give exactly one of --host (Modbus TCP) or --port (serial RTU)", err=True)
        raise typer.Exit(2)
    if parity.upper() not in ("N", "E", "O"):
        typer.echo(f"--parity {parity!r}: use N, E or O", err=True)
        raise typer.Exit(2)
    try:
        ids = parse_units(units)
    except ValueError as exc:
        typer.echo(f"--units: {exc}", err=True)
        raise typer.Exit(2) from None
    target = TcpTarget(host, tcp_port) if host is not None else SerialTarget(port or "", baud, parity.upper())
    try:
        found = asyncio.run(_collect(target, ids, register=register, wait_s=timeout, quiet=as_json))
    except DeviceUnreachable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps([{"unit": p.unit, "detail": p.detail} for p in found]))
    else:
        typer.echo(f"{len(found)} of {len(ids)} unit ids answered")
    raise typer.Exit(0 if found else 1)


async def _collect(
    target: TcpTarget | SerialTarget, ids: list[int], *, register: int, wait_s: float, quiet: bool
) -> list[Probe]:
    from drivers.modbus.scan import scan

    found = []
    async for probe in scan(target, ids, register=register, timeout_s=wait_s):
        if probe.answered:
            found.append(probe)
            if not quiet:
                typer.echo(f"unit {probe.unit:3}: {probe.detail}")
    return found


@scan_app.command("opcua")
def scan_opcua(
    url: Annotated[str, typer.Argument(help="server endpoint, e.g. opc.tcp://10.1.2.3:4840")],
    depth: Annotated[int, typer.Option(help="levels below Objects")] = 4,
    limit: Annotated[int, typer.Option(help="nodes at most")] = 2000,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Browse a server's address space: path, node id, class and value of each node. Exit 1 if no server."""
    from drivers.errors import DeviceUnreachable

    try:
        nodes = asyncio.run(_browse(url, depth, limit))
    except DeviceUnreachable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "path": n.path,
                        "node_id": n.node_id,
                        "class": n.node_class,
                        "value": None if n.value is None else str(n.value),
                    }
                    for n in nodes
                ]
            )
        )
        return
    for n in nodes:
        value = "" if n.value is None else f" = {n.value}"
        typer.echo(f"{n.path:60} {n.node_id:40} {n.node_class}{value}")
    typer.echo(f"{len(nodes)} nodes")


async def _browse(url: str, depth: int, limit: int) -> list[BrowsedNode]:
    from drivers.opcua.scan import browse

    return [n async for n in browse(url, depth=depth, limit=limit)]
