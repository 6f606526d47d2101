"""``python -m simulators traffic``: sim-tlc, the traffic-light controller, as an OPC-UA server.

asyncua is imported when this simulator starts, not when the command line is parsed, so the other
simulators never load it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import tempfile
from pathlib import Path
from typing import Any, Literal

Mode = Literal["Sign", "SignAndEncrypt"]  # as simulators.traffic.server.Mode (not imported: no asyncua here)

MODES: dict[str, tuple[Mode, ...]] = {
    "sign": ("Sign",),
    "sign-encrypt": ("SignAndEncrypt",),
    "both": ("Sign", "SignAndEncrypt"),
}


def add_traffic_parser(sims: Any) -> None:
    """Add the ``traffic`` subcommand to the simulators' subparsers."""
    tlc = sims.add_parser("traffic", help="traffic-light controller (OPC-UA server, devices.md §5.2)")
    tlc.add_argument("--host", default="127.0.0.1")
    tlc.add_argument("--port", type=int, default=4840, help="0 picks a free port")
    tlc.add_argument("--intersection", type=int, default=1, help="its id: Objects/Intersection_<id>")
    tlc.add_argument("--plan", type=int, choices=(1, 2, 3), default=1, help="the timetable's plan")
    tlc.add_argument("--security-code", default="1234", help="what SetPlan and SetFunctionalPosition expect")
    tlc.add_argument(
        "--security",
        choices=("none", *MODES),
        default="none",
        help="Basic256Sha256 endpoints offered (only those: no unsecured endpoint then)",
    )
    tlc.add_argument("--certificate", type=Path, help="the server's certificate (PEM); default: a new one")
    tlc.add_argument("--private-key", type=Path, help="its key (PEM)")
    tlc.add_argument("--trust", type=Path, action="append", help="accept only these client certificates")
    tlc.add_argument("--seed", type=int, default=0, help="detector traffic")
    tlc.set_defaults(serve=serve_traffic)


async def serve_traffic(args: argparse.Namespace) -> None:
    from simulators.traffic.address import NAMESPACE
    from simulators.traffic.controller import TrafficController
    from simulators.traffic.security import ServerSecurity
    from simulators.traffic.server import APPLICATION_URI, TrafficControllerServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    security = None
    note = "security none"
    if args.security != "none":
        cert, key = args.certificate, args.private_key
        if (cert is None) != (key is None):
            raise RuntimeError("--certificate and --private-key go together")
        if cert is None:
            from simulators.certs import self_signed

            cert, key = self_signed(Path(tempfile.mkdtemp(prefix="sim-tlc-")), "sim-tlc", APPLICATION_URI)
        trusted = tuple(args.trust) if args.trust else None
        security = ServerSecurity(cert, key, MODES[args.security], trusted)
        note = f"security Basic256Sha256 {'+'.join(MODES[args.security])}, certificate {cert}"
    model = TrafficController(plan=args.plan, security_code=args.security_code, seed=args.seed)
    sim = TrafficControllerServer(
        model, host=args.host, port=args.port, intersection=args.intersection, security=security
    )
    async with sim:
        print(
            f"sim-tlc: intersection {args.intersection} on {sim.endpoint} ({note}), namespace {NAMESPACE}",
            flush=True,
        )
        await stop.wait()
