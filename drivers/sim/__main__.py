"""Run a simulator until SIGINT or SIGTERM:

python -m drivers.sim luminaires --host 127.0.0.1 --port 5020 --count 50 [--delay-ms 0]
                                 [--channel 0] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from drivers.sim.dali_gateway import MAX_LUMINAIRES
from drivers.sim.luminaire_bank import UNIT, LuminaireBankServer


def _count(text: str) -> int:
    n = int(text)
    if not 1 <= n <= MAX_LUMINAIRES:
        raise argparse.ArgumentTypeError(f"must be 1..{MAX_LUMINAIRES}")
    return n


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m drivers.sim", description="Field-device simulators.")
    sims = parser.add_subparsers(dest="sim", required=True)
    lum = sims.add_parser("luminaires", help="DALI-to-Modbus TCP gateway with a bank of luminaires")
    lum.add_argument("--host", default="127.0.0.1")
    lum.add_argument("--port", type=int, default=5020, help="0 picks a free port")
    lum.add_argument(
        "--count",
        type=_count,
        default=50,
        help=f"luminaires at short addresses 0..count-1 (≤ {MAX_LUMINAIRES})",
    )
    lum.add_argument("--channel", type=int, choices=(0, 1), default=0, help="DALI channel c of the map")
    lum.add_argument("--delay-ms", type=float, default=0.0, help="added to each request (the DALI bus)")
    lum.add_argument("--seed", type=int, default=0, help="luminaire wattages and voltage noise")
    return parser


async def _serve_luminaires(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sim = LuminaireBankServer(
        args.host, args.port, args.count, channel=args.channel, delay_ms=args.delay_ms, seed=args.seed
    )
    async with sim:
        print(
            f"sim-dali-gw: {args.count} luminaires (channel {args.channel}, sa 0..{args.count - 1}) "
            f"on modbus tcp {args.host}:{sim.port}, unit {UNIT}",
            flush=True,
        )
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        asyncio.run(_serve_luminaires(args))
    except (OSError, RuntimeError) as exc:
        print(f"sim: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
