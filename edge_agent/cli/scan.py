"""``edge-agent scan``: find what answers on a line, before a config exists."""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING, Annotated

import typer

from edge_agent.cli.output import Format, FormatOpt, JsonOpt, chosen

if TYPE_CHECKING:  # the Modbus stack is imported only when a scan runs
    from drivers.modbus.scan import Probe, SerialTarget, TcpTarget
    from drivers.opcua.scan import BrowsedNode

scan_app = typer.Typer(
    help="Find devices: which Modbus unit ids answer; what an OPC-UA server offers.", no_args_is_help=True
)

MODBUS_HELP = (
    "Probe unit ids one at a time; list those that answer. Exit 0 if any did, 1 if none, 2 bad input.\n\n"
    "A unit counts when it answers with a value or with an exception only a unit gives (1 illegal "
    "function, 2 illegal address, 3 illegal value, 5, 6 busy, 7, 8). Silence and a gateway's exception "
    "10 (path unavailable) or 11 (target failed to respond) mean no unit. Exception 4 (device failure) "
    "is not counted: TCP gateways answer it for ids they do not know; those ids are listed apart, since "
    "a unit in failure answers it too.\n\n"
    "Stop the agent first if it uses the same serial line: a scan never shares a line with it."
)
OPCUA_HELP = (
    "Browse a server's address space: path, node id, class and value of each node.\n\n"
    "The endpoint must be opc.tcp://host:port (a bare host:port or another scheme is refused, exit 2). "
    "Exit 1 if no server answers."
)
OPCUA_URL = re.compile(r"^opc\.tcp://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})(/.*)?$")


@scan_app.command("modbus", help=MODBUS_HELP)
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
    fmt: FormatOpt = Format.TABLE,
    as_json: JsonOpt = False,
) -> None:
    """See MODBUS_HELP."""
    from drivers.errors import DeviceUnreachable
    from drivers.modbus.scan import SerialTarget, TcpTarget, parse_units

    if host is not None and port is not None:
        typer.echo(
            "give --host (Modbus TCP) or --port (serial RTU), not both; the TCP port of a gateway is "
            "--tcp-port (e.g. --host 10.1.2.3 --tcp-port 5020)",
            err=True,
        )
        raise typer.Exit(2)
    if host is None and port is None:
        typer.echo("give --host (Modbus TCP, with --tcp-port) or --port (a serial line)", err=True)
        raise typer.Exit(2)
    if parity.upper() not in ("N", "E", "O"):
        typer.echo(f"--parity {parity!r}: use N, E or O", err=True)
        raise typer.Exit(2)
    try:
        ids = parse_units(units)
    except ValueError as exc:
        typer.echo(f"--units: {exc}", err=True)
        raise typer.Exit(2) from None
    out = chosen(fmt, as_json)
    target = TcpTarget(host, tcp_port) if host is not None else SerialTarget(port or "", baud, parity.upper())
    try:
        probes = asyncio.run(
            _collect(target, ids, register=register, wait_s=timeout, quiet=out is Format.JSON)
        )
    except DeviceUnreachable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    found = [p for p in probes if p.answered]
    if out is Format.JSON:
        typer.echo(
            json.dumps([{"unit": p.unit, "verdict": p.verdict.value, "detail": p.detail} for p in probes])
        )
    else:
        _summary(probes, len(ids))
    raise typer.Exit(0 if found else 1)


def _summary(probes: list[Probe], tried: int) -> None:
    from drivers.modbus.scan import Verdict, spans

    found = [p.unit for p in probes if p.answered]
    failing = [p.unit for p in probes if p.verdict is Verdict.DEVICE_FAILURE]
    if failing:
        typer.echo(
            f"unit ids {spans(failing)}: exception 4 (device failure), not counted: a gateway's answer for "
            "ids it does not know, or a unit in failure"
        )
    typer.echo(f"{len(found)} of {tried} unit ids answered" + (f": {spans(found)}" if found else ""))


async def _collect(
    target: TcpTarget | SerialTarget, ids: list[int], *, register: int, wait_s: float, quiet: bool
) -> list[Probe]:
    """The probes that got some answer (a unit, or exception 4), in unit order."""
    from drivers.modbus.scan import Verdict, scan

    kept = []
    async for probe in scan(target, ids, register=register, timeout_s=wait_s):
        if probe.verdict is not Verdict.SILENT:
            kept.append(probe)
            if probe.answered and not quiet:
                typer.echo(f"unit {probe.unit:3}: {probe.detail}")
    return kept


@scan_app.command("opcua", help=OPCUA_HELP)
def scan_opcua(
    url: Annotated[
        str, typer.Argument(help="server endpoint: opc.tcp://host:port (and a path, if the server has one)")
    ],
    depth: Annotated[int, typer.Option(help="levels below Objects")] = 4,
    limit: Annotated[int, typer.Option(help="nodes at most")] = 2000,
    fmt: FormatOpt = Format.TABLE,
    as_json: JsonOpt = False,
) -> None:
    """See OPCUA_HELP."""
    from drivers.errors import DeviceUnreachable

    if not OPCUA_URL.match(url):
        typer.echo(
            f"{url!r} is not an OPC-UA endpoint: give opc.tcp://host:port, e.g. opc.tcp://10.1.2.3:4840",
            err=True,
        )
        raise typer.Exit(2)
    out = chosen(fmt, as_json)
    try:
        nodes = asyncio.run(_browse(url, depth, limit))
    except DeviceUnreachable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if out is Format.JSON:
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
