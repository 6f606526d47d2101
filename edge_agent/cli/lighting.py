"""``edge-agent lighting``: the street lighting's commissioning on site."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from edge_agent.cli.output import Format, FormatOpt
from edge_agent.config.load import ConfigError, load_config

lighting_app = typer.Typer(help="Street lighting: commissioning the luminaires.", no_args_is_help=True)

COMMISSION_HELP = (
    "Store each luminaire's DALI POWER ON LEVEL (the level it lights at whenever the cabinet's contactor "
    "brings mains: the street's light when the gateway is dead and the hardware fallback closes the "
    "circuit) and SYSTEM FAILURE LEVEL (when the DALI line loses power), and read them back.\n\n"
    "Where the interface can write them: a DALI line through a serial interface (dali_serial), or a "
    "Modbus profile with writable power_on_level / system_failure_level points. The DALI-to-Modbus "
    "gateway's map (dali-gw-luminaire) has them read-only: those devices are listed as 'cannot'.\n\n"
    "The devices: those named with --device, else every device that takes set_level. Stop the agent "
    "first if it uses the same serial line. Exit 0 if every device stored and read back its levels, "
    "1 if one did not or cannot, 2 bad input."
)


@lighting_app.command("commission", help=COMMISSION_HELP)
def commission_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="agent config (YAML)")],
    power_on: Annotated[
        float, typer.Option("--power-on", min=1, max=100, help="% of light at power on (not 0: never dark)")
    ],
    system_failure: Annotated[
        float | None,
        typer.Option("--system-failure", min=1, max=100, help="% on a DALI system failure [--power-on]"),
    ] = None,
    device: Annotated[list[str] | None, typer.Option("--device", "-d", help="only these (repeat)")] = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    from drivers.dali.config import StoredLevel
    from edge_agent.lighting.commission import commission

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        typer.echo(f"config error:\n{exc}", err=True)
        raise typer.Exit(2) from None
    levels = {
        StoredLevel.POWER_ON: power_on,
        StoredLevel.SYSTEM_FAILURE: power_on if system_failure is None else system_failure,
    }
    outcomes = asyncio.run(commission(cfg, levels, device or ()))
    if not outcomes:
        typer.echo("no luminaire in the config (no device takes set_level)", err=True)
        raise typer.Exit(1)
    if fmt is Format.JSON:
        typer.echo(json.dumps([{"device": o.device, "done": o.done, "detail": o.detail} for o in outcomes]))
    else:
        width = max(len(o.device) for o in outcomes)
        for o in outcomes:
            state = "done" if o.done else "cannot" if o.detail.startswith("cannot") else "FAILED"
            typer.echo(f"{o.device:<{width}}  {state:<6}  {o.detail}")
    raise typer.Exit(0 if all(o.done for o in outcomes) else 1)
