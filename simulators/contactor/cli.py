"""``python -m simulators cabinet``: sim-cabinet, the lighting cabinet's I/O coupler (Modbus TCP), with
its hardware fallback (an astronomical relay at ``--latitude``/``--longitude`` on the host's clock, or a
photocell at ``--lux``), and with ``--lamps N`` a bank of N luminaires (a DALI-to-Modbus gateway on
``--lamps-port``) whose mains the cabinet's circuit switches. The fallback is looked at every second."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from typing import Any

from simulators.contactor.fallback import AstroRelay, Fallback, Photocell
from simulators.contactor.server import UNIT, CabinetServer
from simulators.luminaire.bank import LuminaireBankServer


def add_cabinet_parser(sims: Any) -> None:
    """Add the ``cabinet`` subcommand to the simulators' subparsers."""
    cab = sims.add_parser("cabinet", help="lighting cabinet: mains contactor, fallback, door (Modbus TCP)")
    cab.add_argument("--host", default="127.0.0.1")
    cab.add_argument("--port", type=int, default=5022, help="0 picks a free port")
    cab.add_argument("--latitude", type=float, default=47.32, help="the astronomical relay's place")
    cab.add_argument("--longitude", type=float, default=5.04)
    cab.add_argument("--lux", type=float, default=None, help="a photocell at this light instead of the relay")
    cab.add_argument("--lamps", type=int, default=0, help="serve N luminaires on the circuit (0: none)")
    cab.add_argument("--lamps-port", type=int, default=5023, help="their gateway's port (0: a free one)")
    cab.set_defaults(serve=serve_cabinet)


async def serve_cabinet(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    fallback: Fallback
    if args.lux is None:
        fallback = AstroRelay(args.latitude, args.longitude, time.time)
        what = f"astronomical relay at {args.latitude}, {args.longitude}"
    else:
        fallback = Photocell(lux=args.lux)
        what = f"photocell at {args.lux:g} lux"
    async with contextlib.AsyncExitStack() as stack:
        cab = await stack.enter_async_context(CabinetServer(args.host, args.port, fallback=fallback))
        lamps_note = ""
        if args.lamps:
            bank = LuminaireBankServer(args.host, args.lamps_port, args.lamps)
            await stack.enter_async_context(bank)
            cab.cabinet.on_mains = bank.mains
            lamps_note = f"; {args.lamps} luminaires on its circuit at modbus tcp {args.host}:{bank.port}"
        live = cab.cabinet.update()
        print(
            f"sim-cabinet: contactor, {what}, on modbus tcp {args.host}:{cab.port}, unit {UNIT}"
            f"{lamps_note}; circuit {'live' if live else 'off'}",
            flush=True,
        )
        while not stop.is_set():
            cab.cabinet.update()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
