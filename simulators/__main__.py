"""Run a simulator until SIGINT or SIGTERM:

python -m simulators luminaires --host 127.0.0.1 --port 5020 --count 50 [--delay-ms 0]
                                 [--channel 0] [--seed 0]
python -m simulators luminaires --serial pty|/dev/ttyUSB0 --units 1-20 --count 4 [--baudrate 19200]
                                 [--parity N] [--stopbits 1] [--silent 7,9] [--turnaround-ms 1]
python -m simulators bollards --host 127.0.0.1 --port 5021 --count 1 [--logic automatic]
                               [--power-fail down] [--max-inversions 3] [--rise-s 4] [--lower-s 3]
python -m simulators dali-serial --count 4 [--device /dev/ttyS1] [--query-ms 50] [--command-ms 35]
                                  [--seed 0]
python -m simulators cabinet --port 5022 [--latitude 47.32 --longitude 5.04 | --lux 20]
                             [--lamps 4 --lamps-port 5023]
python -m simulators traffic --port 4840 [--intersection 1] [--plan 1] [--security none|sign|both|...]
                              [--certificate C --private-key K] [--trust CLIENT_CERT ...] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import sys
from collections.abc import Sequence

from simulators.bollard.codes import Logic, PowerFail, SiteSettings
from simulators.bollard.server import UNIT as BOLLARD_UNIT
from simulators.bollard.server import BollardSiteServer
from simulators.contactor.cli import add_cabinet_parser
from simulators.luminaire.bank import UNIT, LuminaireBankServer
from simulators.luminaire.gateway import MAX_LUMINAIRES
from simulators.traffic.cli import add_traffic_parser


def _count(text: str) -> int:
    n = int(text)
    if not 1 <= n <= MAX_LUMINAIRES:
        raise argparse.ArgumentTypeError(f"must be 1..{MAX_LUMINAIRES}")
    return n


def _units(text: str) -> tuple[int, ...]:
    """``1-20`` or ``1,3,5-7``: Modbus unit ids 1..247."""
    units: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            units.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected ids like 1-20 or 1,3,5-7") from None
    if not units or not all(1 <= u <= 247 for u in units):
        raise argparse.ArgumentTypeError("unit ids must be 1..247")
    return tuple(dict.fromkeys(units))


def _span(units: Sequence[int]) -> str:
    """``1-20`` or ``1,3,5-7``: the inverse of :func:`_units`."""
    parts: list[str] = []
    for _, run in itertools.groupby(enumerate(sorted(units)), lambda iu: iu[1] - iu[0]):
        ids = [u for _, u in run]
        parts.append(f"{ids[0]}-{ids[-1]}" if len(ids) > 1 else str(ids[0]))
    return ",".join(parts)


def _travel_s(text: str) -> float:
    s = float(text)
    if not 3 <= s <= 6:
        raise argparse.ArgumentTypeError("must be 3..6 s")
    return s


def _inversions(text: str) -> int:
    n = int(text)
    if not 1 <= n <= 10:
        raise argparse.ArgumentTypeError("must be 1..10")
    return n


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators", description="Field-device simulators.")
    sims = parser.add_subparsers(dest="sim", required=True)
    lum = sims.add_parser(
        "luminaires", help="DALI-to-Modbus gateway(s) with a bank of luminaires: TCP, or RTU with --serial"
    )
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
    rtu = lum.add_argument_group("Modbus RTU (one gateway per unit id on a serial line)")
    rtu.add_argument(
        "--serial", metavar="PORT", help="serve this serial port, or 'pty': a new pseudo-terminal"
    )
    rtu.add_argument("--units", type=_units, default=(1,), help="unit ids: 1-20 or 1,3,5-7 (default 1)")
    rtu.add_argument("--baudrate", type=int, default=19200)
    rtu.add_argument("--parity", choices=("N", "E", "O"), default="N", help="N on a pty (no parity bit)")
    rtu.add_argument("--stopbits", type=int, choices=(1, 2), default=1)
    rtu.add_argument("--silent", type=_units, default=(), help="unit ids that never answer (dead devices)")
    rtu.add_argument("--turnaround-ms", type=float, default=1.0, help="a unit's delay before it answers")
    lum.set_defaults(serve=_serve_luminaires)
    bol = sims.add_parser("bollards", help="retractable-bollard access site (Modbus TCP, devices.md §5.3)")
    bol.add_argument("--host", default="127.0.0.1")
    bol.add_argument("--port", type=int, default=5021, help="0 picks a free port")
    bol.add_argument("--count", type=int, choices=(1, 2, 3), default=1, help="bollards on the site")
    logics = [x.name.lower().replace("_", "-") for x in Logic]
    bol.add_argument("--logic", choices=logics, default="automatic", help="operating logic")
    bol.add_argument("--power-fail", choices=("down", "up"), default="down", help="on mains failure")
    bol.add_argument("--max-inversions", type=_inversions, default=3, help="reversals before it stays down")
    bol.add_argument("--rise-s", type=_travel_s, default=4.0, help="rise travel time, 3..6 s")
    bol.add_argument("--lower-s", type=_travel_s, default=3.0, help="lower travel time, 3..6 s")
    bol.set_defaults(serve=_serve_bollards)
    dali = sims.add_parser("dali-serial", help="Lunatone LUBA RS232 DALI interface with gear (a pty)")
    dali.add_argument("--count", type=_gear_count, default=4, help="gear at short addresses 0..count-1")
    dali.add_argument("--device", default=None, help="serve this serial port (default: a new pty)")
    dali.add_argument("--query-ms", type=float, default=50.0, help="bus time of a query and its answer")
    dali.add_argument("--command-ms", type=float, default=35.0, help="bus time of a frame without answer")
    dali.add_argument("--seed", type=int, default=0, help="luminaire wattages and voltage noise")
    dali.set_defaults(serve=_serve_dali_serial)
    add_cabinet_parser(sims)
    add_traffic_parser(sims)
    return parser


def _gear_count(text: str) -> int:
    n = int(text)
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError("must be 1..64 (DALI short addresses 0..63)")
    return n


async def _serve_dali_serial(args: argparse.Namespace) -> None:
    from simulators.dali.lunatone import DaliSerialSim

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sim = DaliSerialSim(args.count, query_ms=args.query_ms, command_ms=args.command_ms, seed=args.seed)
    await sim.start(args.device)
    try:
        print(
            f"sim-dali-serial: {args.count} gear (sa 0..{args.count - 1}) behind a Lunatone LUBA RS232 "
            f"interface on {sim.path} (38400 8N1)",
            flush=True,
        )
        await stop.wait()
    finally:
        await sim.stop()


async def _serve_luminaire_line(args: argparse.Namespace) -> None:
    from simulators.luminaire.line import LuminaireLine

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    line = LuminaireLine(
        args.units,
        args.count,
        channel=args.channel,
        baudrate=args.baudrate,
        parity=args.parity,
        stopbits=args.stopbits,
        turnaround_ms=args.turnaround_ms,
        seed=args.seed,
    )
    line.server.silent.update(args.silent)
    await line.start(None if args.serial == "pty" else args.serial)
    try:
        units = _span(args.units)
        print(
            f"sim-dali-gw: {len(args.units)} gateway(s) × {args.count} luminaires (channel {args.channel}) "
            f"on modbus rtu {line.path} {args.baudrate} 8{args.parity}{args.stopbits}, units {units}",
            flush=True,
        )
        await stop.wait()
    finally:
        await line.stop()


async def _serve_luminaires(args: argparse.Namespace) -> None:
    if args.serial:
        await _serve_luminaire_line(args)
        return
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


async def _serve_bollards(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settings = SiteSettings(
        rise_s=args.rise_s,
        lower_s=args.lower_s,
        max_inversions=args.max_inversions,
        power_fail=PowerFail.UP if args.power_fail == "up" else PowerFail.DOWN,
    )
    logic = Logic[args.logic.upper().replace("-", "_")]
    sim = BollardSiteServer(args.host, args.port, args.count, settings=settings, logic=logic)
    async with sim:
        print(
            f"sim-bollard: site with {args.count} bollard(s) ({args.logic}, fail-{args.power_fail}) "
            f"on modbus tcp {args.host}:{sim.port}, unit {BOLLARD_UNIT}",
            flush=True,
        )
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        asyncio.run(args.serve(args))
    except (OSError, RuntimeError) as exc:
        print(f"sim: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
